//! Helpers shared by every crate's tests. Test-only: nothing here ships.

use std::path::{Path, PathBuf};

/// The repository root, found from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).map(Path::to_path_buf).unwrap_or_default()
}

/// Every `berth.yaml` under `examples/`, sorted, as (example name, path).
pub fn example_specs() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(workspace_root().join("examples")) else {
        return out;
    };
    for entry in entries.flatten() {
        let spec = entry.path().join("berth.yaml");
        if spec.is_file() {
            out.push((entry.file_name().to_string_lossy().into_owned(), spec));
        }
    }
    out.sort();
    out
}

/// Files in `dir` with the given extension, sorted.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

/// Renders diagnostics without color, the form snapshot tests compare.
pub fn render_plain(file: &berth_diagnostics::SourceFile, diagnostics: &[berth_diagnostics::Diagnostic]) -> String {
    berth_diagnostics::render_human(file, diagnostics, berth_diagnostics::ColorChoice::Never)
}
