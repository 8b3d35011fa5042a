//! `berth render` and `berth diff`: the plan through the renderers, then
//! written, compared (`--check`) or diffed against the output directory.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context as _;
use berth_diagnostics::{SourceFile, render_human};

use crate::Outcome;
use crate::cli::RenderArgs;
use crate::output;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Diff,
}

pub fn run(args: &RenderArgs, color: bool, mode: Mode) -> anyhow::Result<Outcome> {
    let file = super::read_spec(&args.file)?;
    let loaded = berth_spec::load(&file.text, args.env.as_deref());
    super::known_environment(&file.name, &loaded.diagnostics)?;
    output::stderr(&render_human(&file, &loaded.diagnostics, output::color_choice(color)));
    let Some(spec) = loaded.spec else {
        output::stderr(&format!("{}: nothing rendered, the spec has errors\n", file.name));
        return Ok(Outcome::Findings);
    };
    let mut plan = berth_plan::build(&spec, args.env.as_deref());
    if !super::read_files(&mut plan, &args.file, &file, color) {
        output::stderr(&format!("{}: nothing rendered, a file the spec names cannot be read\n", file.name));
        return Ok(Outcome::Findings);
    }
    let targets: BTreeSet<berth_render::Target> = args.targets.iter().flat_map(|t| t.0.iter().copied()).collect();
    let targets: Vec<_> = targets.into_iter().collect();
    let rendered = berth_render::render(&plan, &file.text, &targets);
    let notes = SourceFile::new(file.name.clone(), file.text.clone());
    output::stderr(&render_human(&notes, &rendered.diagnostics, output::color_choice(color)));
    // Fail closed: a target that cannot enforce what the spec asks for
    // writes nothing, so no half-secured artifact reaches a cluster.
    if rendered.has_errors() {
        output::stderr(&format!("{}: nothing rendered, a target cannot do what the spec says\n", file.name));
        return Ok(Outcome::Findings);
    }
    match (mode, args.check) {
        (Mode::Write, false) => {
            for f in &rendered.files {
                let path = args.out.join(&f.path);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                }
                if std::fs::read_to_string(&path).ok().as_deref() != Some(f.contents.as_str()) {
                    std::fs::write(&path, &f.contents).with_context(|| format!("cannot write {}", path.display()))?;
                }
            }
            let names: Vec<&str> = targets.iter().map(|t| t.name()).collect();
            output::stdout(&format!(
                "rendered {} files for {} into {}\n",
                rendered.files.len(),
                names.join(", "),
                args.out.display()
            ))?;
            Ok(Outcome::Ok)
        }
        (Mode::Write, true) => {
            let stale = differing(&args.out, &rendered.files);
            if stale.is_empty() {
                output::stdout(&format!("{}: up to date ({} files)\n", args.out.display(), rendered.files.len()))?;
                return Ok(Outcome::Ok);
            }
            for path in &stale {
                output::stdout(&format!("differs: {}\n", args.out.join(path).display()))?;
            }
            output::stderr(&format!(
                "{} of {} files differ from the spec; run `berth diff` to see how, `berth render` to update\n",
                stale.len(),
                rendered.files.len()
            ));
            Ok(Outcome::Findings)
        }
        (Mode::Diff, _) => {
            let mut any = false;
            for f in &rendered.files {
                let path = args.out.join(&f.path);
                let current = std::fs::read_to_string(&path).unwrap_or_default();
                if current != f.contents {
                    any = true;
                    let shown = path.display().to_string();
                    let diff = similar::TextDiff::from_lines(&current, &f.contents)
                        .unified_diff()
                        .context_radius(3)
                        .header(&format!("{shown} (on disk)"), &format!("{shown} (rendered)"))
                        .to_string();
                    output::stdout(&diff)?;
                }
            }
            Ok(if any { Outcome::Findings } else { Outcome::Ok })
        }
    }
}

/// Paths (relative to `out`) whose contents on disk differ from `files`.
fn differing(out: &Path, files: &[berth_render::File]) -> Vec<String> {
    files
        .iter()
        .filter(|f| std::fs::read_to_string(out.join(&f.path)).ok().as_deref() != Some(f.contents.as_str()))
        .map(|f| f.path.clone())
        .collect()
}
