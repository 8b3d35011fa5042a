//! Baselines: adopt `berth check` on a repository that already has
//! findings. [`Baseline::of`] records every finding that counts today;
//! [`apply`] hides those in a later report (they stay in JSON and SARIF as
//! suppressed, with the reason [`REASON`]) so that only new findings fail,
//! and returns the entries that match nothing any more, so the baseline
//! shrinks as the debt is paid.
//!
//! A finding is known by a fingerprint that survives unrelated edits: its
//! file, its code, the object it is about (`Deployment/web`, a compose
//! `service/web`) or else its message (numbers kept, but the line numbers
//! of places in other files taken out), and its place among findings alike
//! in all of these. Never its own line: a line added above a finding does
//! not make it new.
//!
//! Parse errors and configuration mistakes (`E001`, `E002`) are never
//! baselined: a file the check cannot read is not a debt to carry.
//!
//! Pure: text in, data out; the CLI reads and writes the file. The file is
//! JSON, one entry per finding with the path, code, line (for people; not
//! matched), object, message and fingerprint, sorted by path, code, object
//! and message so that an edit elsewhere changes only the lines it moved.

use std::collections::{HashMap, HashSet};

use berth_spec::Node;
use serde::{Deserialize, Serialize};

use crate::graph::yaml::{at, seq, str_at};
use crate::{Finding, Kind, Report};

/// The format version this berth writes and reads.
pub const VERSION: u32 = 1;

/// The suppression reason of a finding hidden by the baseline.
pub const REASON: &str = "in the baseline";

/// One recorded finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub code: String,
    /// Where it was when recorded, for people reading the file; not matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// `Kind/name` of the Kubernetes object or `service/<name>` of the
    /// compose service the finding is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub message: String,
    pub fingerprint: String,
}

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    pub findings: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("not a berth check baseline: {0}")]
    Malformed(serde_json::Error),
    #[error(
        "baseline version {found} is not one this berth reads (it writes version 1); rewrite it with --write-baseline"
    )]
    Version { found: u32 },
}

/// What [`apply`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Findings hidden because the baseline holds them.
    pub baselined: usize,
    /// Entries no finding matches any more: fixed, suppressed since, or
    /// in files not checked this time (see [`covers`]).
    pub stale: Vec<Entry>,
}

/// Whether a finding can be baselined: it counts (no suppression) and is
/// about what a file says, not about reading it.
pub fn can_baseline(finding: &Finding) -> bool {
    let code = finding.diagnostic.code.id;
    finding.suppressed.is_none() && code != crate::graph::PARSE_ERROR.id && code != crate::config::CONFIG_ERROR.id
}

impl Baseline {
    /// Every finding of `report` that [`can_baseline`], whatever its
    /// severity: a later run at a lower `--severity` does not surface old
    /// findings as new.
    pub fn of(report: &Report) -> Self {
        let mut findings: Vec<Entry> = identities(report)
            .into_iter()
            .filter_map(|id| {
                let finding = report.findings.get(id.finding)?;
                let file = report.files.get(finding.file)?;
                Some(Entry {
                    path: id.path,
                    code: finding.diagnostic.code.id.to_owned(),
                    line: finding.diagnostic.span.map(|s| file.line_col(s.start).line),
                    object: id.object,
                    message: finding.diagnostic.message.clone(),
                    fingerprint: id.fingerprint,
                })
            })
            .collect();
        findings.sort_by(|a, b| {
            (&a.path, &a.code, &a.object, &a.message, &a.fingerprint).cmp(&(
                &b.path,
                &b.code,
                &b.object,
                &b.message,
                &b.fingerprint,
            ))
        });
        Self { version: VERSION, findings }
    }

    /// The file's text: pretty JSON, one field per line, ending in a newline.
    pub fn to_json(&self) -> String {
        // Plain structs of strings and numbers always serialize.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

/// Reads a baseline file.
pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
    // The version first: a later format may change the entries.
    #[derive(Deserialize)]
    struct Head {
        version: u32,
    }
    let head: Head = serde_json::from_str(text).map_err(BaselineError::Malformed)?;
    if head.version != VERSION {
        return Err(BaselineError::Version { found: head.version });
    }
    serde_json::from_str(text).map_err(BaselineError::Malformed)
}

/// Marks the findings of `report` that `baseline` holds as suppressed with
/// [`REASON`], and returns how many, and the entries that matched nothing.
pub fn apply(report: &mut Report, baseline: &Baseline) -> Applied {
    let known: HashSet<&str> = baseline.findings.iter().map(|e| e.fingerprint.as_str()).collect();
    let ids = identities(report);
    let current: HashSet<&str> = ids.iter().map(|id| id.fingerprint.as_str()).collect();
    let mut baselined = 0;
    for id in &ids {
        if known.contains(id.fingerprint.as_str())
            && let Some(finding) = report.findings.get_mut(id.finding)
        {
            finding.suppressed = Some(REASON.to_owned());
            baselined += 1;
        }
    }
    let stale = baseline.findings.iter().filter(|e| !current.contains(e.fingerprint.as_str())).cloned().collect();
    Applied { baselined, stale }
}

/// Whether an entry's path lies under one of `roots`, the paths a check
/// was given as shown to the user (`.` covers everything): an entry
/// outside them was not looked for, so it is not stale.
pub fn covers(roots: &[String], path: &str) -> bool {
    let path = path.split(" → ").next().unwrap_or(path);
    roots.iter().any(|root| {
        let root = root.trim_end_matches('/');
        let root = root.strip_prefix("./").unwrap_or(root);
        root.is_empty()
            || root == "."
            || path == root
            || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/'))
    })
}

/// A finding that can be baselined, identified.
#[derive(Debug)]
struct Identity {
    /// Index into [`Report::findings`].
    finding: usize,
    path: String,
    object: Option<String>,
    fingerprint: String,
}

fn identities(report: &Report) -> Vec<Identity> {
    let objects = objects(report);
    let names: HashSet<&str> = report.files.iter().map(|f| f.name.as_str()).collect();
    // Findings come sorted by file and position, so the n-th of a kind
    // stays the n-th when lines move.
    let mut seen: HashMap<(String, &str, String), usize> = HashMap::new();
    let mut out = Vec::new();
    for (index, finding) in report.findings.iter().enumerate() {
        if !can_baseline(finding) {
            continue;
        }
        let Some(file) = report.files.get(finding.file) else { continue };
        let path = normalize(&file.name);
        let object = objects.get(index).cloned().flatten();
        let key = object.clone().unwrap_or_else(|| without_places(&finding.diagnostic.message, &names));
        let code = finding.diagnostic.code.id;
        let counter = seen.entry((path.clone(), code, key.clone())).or_insert(0);
        let occurrence = *counter;
        *counter += 1;
        let fingerprint = fingerprint(&[&path, code, &key, &occurrence.to_string()]);
        out.push(Identity { finding: index, path, object, fingerprint });
    }
    out
}

/// The path as recorded: without `./`, with `/` separators, so a baseline
/// written on Windows matches on Linux.
fn normalize(path: &str) -> String {
    path.strip_prefix("./").unwrap_or(path).replace('\\', "/")
}

/// For every finding, the Kubernetes object or compose service it lies
/// in, if any. Read from the text again (only the files that hold
/// findings), named as the graph and `berth-check.yaml`'s `object:` name
/// them: `Kind/name`, and `service/<name>` for compose.
fn objects(report: &Report) -> Vec<Option<String>> {
    let mut wanted = vec![false; report.files.len()];
    for finding in report.findings.iter().filter(|f| can_baseline(f)) {
        if let Some(w) = wanted.get_mut(finding.file) {
            *w = true;
        }
    }
    // (where it starts, its name) by file; `None` ends the one before.
    let mut holders: Vec<Vec<(usize, Option<String>)>> = vec![Vec::new(); report.files.len()];
    for (index, ((file, kind), holder)) in report.files.iter().zip(&report.kinds).zip(&mut holders).enumerate() {
        if !wanted.get(index).copied().unwrap_or(false) || !matches!(kind, Kind::Kubernetes | Kind::Compose) {
            continue;
        }
        // A file that does not parse was reported when it was checked.
        let Ok(docs) = berth_spec::parse_documents(&file.text) else { continue };
        if *kind == Kind::Compose {
            if let Some(doc) = docs.first() {
                compose_services(doc, holder);
            }
        } else {
            for doc in &docs {
                kubernetes_objects(doc, holder);
            }
        }
        holder.sort();
    }
    report
        .findings
        .iter()
        .map(|f| {
            let start = f.diagnostic.span?.start;
            let list = holders.get(f.file)?;
            let before = list.partition_point(|(s, _)| *s <= start);
            list.get(before.checked_sub(1)?)?.1.clone()
        })
        .collect()
}

/// The objects of one YAML document: itself, or the items of a `List`.
fn kubernetes_objects(doc: &Node, out: &mut Vec<(usize, Option<String>)>) {
    let mut pending = vec![doc];
    while let Some(node) = pending.pop() {
        let (Some(_), Some(kind)) = (str_at(node, &["apiVersion"]), str_at(node, &["kind"])) else { continue };
        if kind == "List" || kind.ends_with("List") && at(node, &["items"]).is_some() {
            pending.extend(seq(at(node, &["items"])));
            continue;
        }
        let name = str_at(node, &["metadata", "name"]).unwrap_or("(unnamed)");
        out.push((node.span.start, Some(format!("{kind}/{name}"))));
    }
}

/// The services of a compose file, each from its name on; what follows
/// `services:` (volumes, networks) belongs to none.
fn compose_services(doc: &Node, out: &mut Vec<(usize, Option<String>)>) {
    let Some(entries) = doc.as_map() else { return };
    let Some(services) = entries.iter().find(|e| e.key.name == "services") else { return };
    for service in services.value.as_map().unwrap_or_default() {
        out.push((service.key.span.start, Some(format!("service/{}", service.key.name))));
    }
    let next = entries.iter().map(|e| e.key.span.start).filter(|s| *s > services.key.span.start).min();
    if let Some(end) = next {
        out.push((end, None));
    }
}

/// `message` without the line numbers of the places it names
/// (`k8s/web.yaml:12` becomes `k8s/web.yaml`): a finding that points at a
/// line in another file keeps its fingerprint when that file moves. Other
/// numbers (ports, timeouts) stay: they are what the finding says.
fn without_places(message: &str, names: &HashSet<&str>) -> String {
    let bytes = message.as_bytes();
    let mut out = String::with_capacity(message.len());
    let (mut kept, mut i) = (0, 0);
    while i + 1 < bytes.len() {
        if bytes[i] == b':' && bytes[i + 1].is_ascii_digit() && ends_with_name(message, i, names) {
            out.push_str(&message[kept..i]);
            let mut end = i + 1;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            kept = end;
            i = end;
        } else {
            i += 1;
        }
    }
    out.push_str(&message[kept..]);
    out
}

/// Whether `message[..end]` ends with one of `names`.
fn ends_with_name(message: &str, end: usize, names: &HashSet<&str>) -> bool {
    message.char_indices().map(|(i, _)| i).take_while(|i| *i < end).any(|start| names.contains(&message[start..end]))
}

/// FNV-1a over the parts, each ended by a zero byte: stable across
/// platforms and Rust versions, unlike the standard library's hasher.
fn fingerprint(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use berth_diagnostics::Severity;

    use super::*;
    use crate::{Input, check};

    fn report(files: &[(&str, &str)]) -> Report {
        check(files.iter().map(|(path, text)| Input { path: (*path).into(), text: (*text).into() }).collect(), None)
    }

    fn fingerprints(baseline: &Baseline) -> Vec<(String, String, String)> {
        let mut out: Vec<_> =
            baseline.findings.iter().map(|e| (e.path.clone(), e.code.clone(), e.fingerprint.clone())).collect();
        out.sort();
        out
    }

    const DOCKERFILE: &str = "FROM debian\nADD src/ /app/\n";

    #[test]
    fn fingerprints_survive_lines_moving() {
        let before = Baseline::of(&report(&[("app/Dockerfile", DOCKERFILE)]));
        assert!(before.findings.iter().any(|e| e.code == "D003"), "{before:?}");
        let moved = format!("# syntax=docker/dockerfile:1\n# the app\n\n{DOCKERFILE}");
        let after = Baseline::of(&report(&[("app/Dockerfile", moved.as_str())]));
        assert_eq!(fingerprints(&before), fingerprints(&after));
        let line = |b: &Baseline| b.findings.iter().find(|e| e.code == "D003").and_then(|e| e.line);
        assert_eq!((line(&before), line(&after)), (Some(2), Some(5)));
    }

    #[test]
    fn identical_findings_are_told_apart_by_their_order() {
        let one = Baseline::of(&report(&[("Dockerfile", DOCKERFILE)]));
        let two = Baseline::of(&report(&[("Dockerfile", "FROM debian\nADD src/ /app/\nADD etc/ /etc/app/\n")]));
        let d003 = |b: &Baseline| {
            b.findings.iter().filter(|e| e.code == "D003").map(|e| e.fingerprint.clone()).collect::<Vec<_>>()
        };
        assert_eq!(d003(&one).len(), 1);
        assert_eq!(d003(&two).len(), 2);
        assert!(d003(&two).contains(&d003(&one)[0]));
    }

    const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: nginx:latest\n";

    #[test]
    fn kubernetes_findings_are_known_by_their_object() {
        let api = WEB.replace("web", "api");
        let (one, other) = (format!("{WEB}---\n{api}"), format!("{api}---\n{WEB}"));
        let first = Baseline::of(&report(&[("k8s/all.yaml", one.as_str())]));
        let swapped = Baseline::of(&report(&[("k8s/all.yaml", other.as_str())]));
        assert!(!first.findings.is_empty());
        let objects: HashSet<Option<&str>> = first.findings.iter().map(|e| e.object.as_deref()).collect();
        assert!(objects.contains(&Some("Deployment/web")) && objects.contains(&Some("Deployment/api")), "{objects:?}");
        assert_eq!(fingerprints(&first), fingerprints(&swapped));
    }

    #[test]
    fn compose_findings_name_their_service_and_nothing_after_services() {
        let compose = "services:\n  web:\n    image: ghcr.io/acme/web:1.4.2\n    ports: [\"8080:8080\"]\n";
        let baseline = Baseline::of(&report(&[("docker-compose.yml", compose)]));
        let c001 = baseline.findings.iter().find(|e| e.code == "C001");
        assert_eq!(c001.and_then(|e| e.object.as_deref()), Some("service/web"), "{baseline:?}");
    }

    #[test]
    fn places_lose_their_lines_and_other_numbers_stay() {
        let names: HashSet<&str> = ["check-shop/api/Dockerfile", "berth.yaml → kubernetes/web.yaml"].into();
        assert_eq!(
            without_places(
                "nginx waits 60 s for `api` (check-shop/api/Dockerfile:7), which lets a request run 120 s",
                &names
            ),
            "nginx waits 60 s for `api` (check-shop/api/Dockerfile), which lets a request run 120 s"
        );
        assert_eq!(
            without_places("at berth.yaml → kubernetes/web.yaml:12", &names),
            "at berth.yaml → kubernetes/web.yaml"
        );
        assert_eq!(without_places("proxies to api:8080 and db:5432", &names), "proxies to api:8080 and db:5432");
        assert_eq!(without_places("ends with a colon:", &names), "ends with a colon:");
    }

    #[test]
    fn a_baseline_hides_what_it_holds_and_names_what_is_gone() {
        let old = report(&[("app/Dockerfile", DOCKERFILE)]);
        let baseline = Baseline::of(&old);
        let recorded = baseline.findings.len();
        // Same files: everything is baselined, nothing counts.
        let mut same = report(&[("app/Dockerfile", DOCKERFILE)]);
        let applied = apply(&mut same, &baseline);
        assert_eq!(applied, Applied { baselined: recorded, stale: Vec::new() });
        assert_eq!(same.active(Severity::Info).count(), 0);
        assert!(same.findings.iter().all(|f| f.suppressed.as_deref() == Some(REASON)));
        // D002 fixed (a tag), a second ADD added: one new finding, one stale entry.
        let mut next = report(&[("app/Dockerfile", "FROM debian:12-slim\nADD src/ /app/\nADD etc/ /etc/app/\n")]);
        let applied = apply(&mut next, &baseline);
        let active: Vec<_> = next.active(Severity::Info).map(|f| f.diagnostic.code.id).collect();
        assert_eq!(active, ["D003"]);
        assert_eq!(applied.stale.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(), ["D002"]);
        assert_eq!(applied.baselined, recorded - 1);
    }

    #[test]
    fn parse_errors_are_never_baselined() {
        let broken = [("k8s/broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n")];
        let old = report(&broken);
        assert!(old.findings.iter().any(|f| f.diagnostic.code.id == "E001"));
        let baseline = Baseline::of(&old);
        assert!(baseline.findings.iter().all(|e| !e.code.starts_with('E')), "{baseline:?}");
        let mut again = report(&broken);
        apply(&mut again, &baseline);
        assert!(again.active(Severity::Error).any(|f| f.diagnostic.code.id == "E001"));
    }

    #[test]
    fn the_file_round_trips_and_is_stable() {
        let baseline = Baseline::of(&report(&[("app/Dockerfile", DOCKERFILE), ("Dockerfile", DOCKERFILE)]));
        let text = baseline.to_json();
        assert!(text.starts_with("{\n  \"version\": 1,\n  \"findings\": [\n"), "{text}");
        assert!(text.ends_with("}\n"));
        assert_eq!(parse(&text).unwrap(), baseline);
        let again = Baseline::of(&report(&[("app/Dockerfile", DOCKERFILE), ("Dockerfile", DOCKERFILE)]));
        assert_eq!(again.to_json(), text);
        let paths: Vec<&str> = baseline.findings.iter().map(|e| e.path.as_str()).collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        assert_eq!(paths, sorted);
    }

    #[test]
    fn wrong_files_are_refused() {
        assert!(matches!(parse("{\"version\": 2, \"findings\": []}"), Err(BaselineError::Version { found: 2 })));
        assert!(matches!(parse("[]"), Err(BaselineError::Malformed(_))));
        assert!(matches!(parse("{\"version\": 1}"), Err(BaselineError::Malformed(_))));
        assert!(parse("{\"version\": 1, \"findings\": []}").unwrap().findings.is_empty());
    }

    #[test]
    fn roots_cover_what_was_checked() {
        let roots = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
        assert!(covers(&roots(&["."]), "k8s/web.yaml"));
        assert!(covers(&roots(&["k8s/"]), "k8s/web.yaml"));
        assert!(covers(&roots(&["./k8s"]), "k8s/web.yaml"));
        assert!(covers(&roots(&["app/Dockerfile"]), "app/Dockerfile"));
        assert!(covers(&roots(&["deploy"]), "deploy/berth.yaml → kubernetes/web.yaml"));
        assert!(!covers(&roots(&["k8s"]), "k8s-old/web.yaml"));
        assert!(!covers(&roots(&["k8s", "app"]), "nginx/site.conf"));
    }

    #[test]
    fn fingerprints_are_fixed_values() {
        // Changing the hash would make every committed baseline stale.
        assert_eq!(fingerprint(&[]), "cbf29ce484222325");
        assert_eq!(fingerprint(&["a"]), fingerprint(&["a"]));
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}
