//! Suppressions, each with a reason. A suppressed finding is kept (SARIF
//! shows it with its justification); it only stops counting.
//!
//! - Kubernetes: an annotation on the object, `ignore.berth.dev/<CODE>:
//!   <reason>`, or `ignore.berth.dev/<CODE>.<container>: <reason>` for one
//!   container. Pod template annotations work the same.
//! - Any file: a comment `# berth: ignore[<CODE>] <reason>` on the line of
//!   the finding or the line above it.
//! - A `berth-check.yaml` (see [`crate::config`]): by rule, paths and object.

use berth_diagnostics::SourceFile;

use crate::Finding;
use crate::config::Config;
use crate::graph::Graph;

const PREFIX: &str = "ignore.berth.dev/";

/// The `berth: ignore[CODE] reason` directive in a line, as (code, reason).
fn comment_directive(line: &str) -> Option<(&str, &str)> {
    let at = line.find("berth: ignore[")?;
    let rest = &line[at + "berth: ignore[".len()..];
    let (code, reason) = rest.split_once(']')?;
    Some((code.trim(), reason.trim()))
}

pub fn apply(graph: &Graph<'_>, files: &[SourceFile], configs: &[Config], findings: &mut [Finding]) {
    // Objects by file, so each finding looks only at its own file's objects.
    let mut by_file: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (index, object) in graph.objects.iter().enumerate() {
        by_file[object.file].push(index);
    }
    for finding in findings.iter_mut() {
        let code = finding.diagnostic.code.id;
        let file = &files[finding.file];
        let Some(span) = finding.diagnostic.span else {
            finding.suppressed = configs.iter().find_map(|c| c.reason(code, &file.name, None)).map(str::to_owned);
            continue;
        };
        // Comments: the finding's line or the one above.
        let line = file.line_col(span.start).line;
        let above = line.saturating_sub(2);
        let lines: Vec<&str> = file.lines(above + 1, line).lines().collect();
        let by_comment =
            lines.iter().rev().filter_map(|l| comment_directive(l)).find(|(c, _)| c.eq_ignore_ascii_case(code));
        if let Some((_, reason)) = by_comment {
            finding.suppressed = Some(reason_or_default(reason));
            continue;
        }
        // Annotations: the object holding the finding, then its containers.
        let holder = by_file[finding.file]
            .iter()
            .map(|i| (*i, &graph.objects[*i]))
            .filter(|(_, o)| o.node.span.start <= span.start)
            .max_by_key(|(_, o)| o.node.span.start);
        let from_config =
            |object: Option<&str>| configs.iter().find_map(|c| c.reason(code, &file.name, object)).map(str::to_owned);
        let Some((index, object)) = holder else {
            finding.suppressed = from_config(None);
            continue;
        };
        let mut annotations: Vec<&(String, String)> = object.annotations.iter().collect();
        let workload = graph.workload_of(index);
        if let Some(w) = workload {
            annotations.extend(&w.pod_annotations);
        }
        let container = workload.and_then(|w| {
            w.containers
                .iter()
                .filter(|c| c.node.span.start <= span.start)
                .max_by_key(|c| c.node.span.start)
                .map(|c| c.name)
        });
        let wanted = format!("{PREFIX}{code}");
        let wanted_container = container.map(|c| format!("{wanted}.{c}"));
        let matched = annotations.iter().find(|(k, _)| {
            k.eq_ignore_ascii_case(&wanted) || wanted_container.as_deref().is_some_and(|w| k.eq_ignore_ascii_case(w))
        });
        finding.suppressed = match matched {
            Some((_, reason)) => Some(reason_or_default(reason)),
            None => from_config(Some(&format!("{}/{}", object.kind, object.name))),
        };
    }
}

fn reason_or_default(reason: &str) -> String {
    if reason.is_empty() { "(no reason given)".to_owned() } else { reason.to_owned() }
}
