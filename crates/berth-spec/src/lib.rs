//! `berth.yaml`: reading, merging environment overlays, typed
//! deserialization with every problem reported, and validation.
//!
//! This crate is pure: it takes text and returns data plus diagnostics. It
//! never touches the file system, the network or the clock.

pub mod codes;
mod de;
mod events;
pub mod model;
mod node;
mod overlay;
mod path;
pub mod reference;
pub mod schema;
mod suggest;
mod validate;
mod yaml;

use berth_diagnostics::{Diagnostic, Severity, Span};

pub use model::*;
pub use node::{Entry, Key, Node, NodeKind};
pub use path::{Anchor, Path, Segment, locate};
pub use suggest::did_you_mean;
pub use yaml::parse_documents;

/// A spec read for one environment.
#[derive(Debug)]
pub struct Loaded {
    /// The typed spec, when it has no errors (warnings allowed).
    pub spec: Option<Spec>,
    /// The environment the overlay came from, if any.
    pub environment: Option<String>,
    /// Every problem found, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads `text` as a spec for `environment` (the base when `None`).
///
/// A problem only the environment's overlay causes (the base alone does not
/// have it) names the environment: its message ends with ``(in environment
/// `prod`)`` and a related label points at the overlay's `prod:`, so both the
/// human and the JSON output say where it comes from. The problem itself
/// points at the overlay's line when the overlay wrote the value.
pub fn load(text: &str, environment: Option<&str>) -> Loaded {
    let mut loaded = load_one(text, environment);
    if let Some(name) = environment {
        let base = load_one(text, None).diagnostics;
        if let Some(overlay) = overlay_place(text, name) {
            let base_clean = !base.iter().any(Diagnostic::is_error);
            for d in &mut loaded.diagnostics {
                if caused_by_overlay(d, &base, base_clean, &overlay) {
                    mark_environments(d, std::slice::from_ref(&overlay));
                }
            }
            sort(&mut loaded.diagnostics);
        }
    }
    loaded
}

/// Where an environment's overlay is written: its name, the span of its
/// key (`prod:`) and of everything under it.
#[derive(Debug, Clone)]
struct OverlayPlace {
    name: String,
    key: Span,
    extent: Span,
}

fn overlay_place(text: &str, environment: &str) -> Option<OverlayPlace> {
    let root = yaml::parse(text).ok()?;
    let (key, extent) = overlay::place(&root, environment)?;
    Some(OverlayPlace { name: environment.to_owned(), key, extent })
}

/// Whether the overlay, not the base, causes `d`: the base alone does not
/// report it, and it points into the overlay or the base was checked
/// completely (a base with errors is not validated across sections, so its
/// silence there says nothing).
fn caused_by_overlay(d: &Diagnostic, base: &[Diagnostic], base_clean: bool, overlay: &OverlayPlace) -> bool {
    let inside = |s: Span| overlay.extent.start <= s.start && s.end <= overlay.extent.end;
    let points_into = d.span.is_some_and(inside) || d.related.iter().any(|r| inside(r.span));
    !base.contains(d) && (points_into || base_clean)
}

/// Names the environments whose overlays cause `d`, in its message and as
/// related labels on their keys.
fn mark_environments(d: &mut Diagnostic, overlays: &[OverlayPlace]) {
    let Some(first) = overlays.first() else { return };
    let names: Vec<String> = overlays.iter().map(|o| format!("`{}`", o.name)).collect();
    let plural = if names.len() == 1 { "" } else { "s" };
    d.message = format!("{} (in environment{plural} {})", d.message, names.join(", "));
    if d.span.is_none() {
        d.span = Some(first.key);
    }
    for o in overlays {
        if d.span != Some(o.key) && !d.related.iter().any(|r| r.span == o.key) {
            d.related.push(berth_diagnostics::Label {
                span: o.key,
                message: format!("in environment `{}`: its overlay causes this", o.name),
            });
        }
    }
}

/// [`load`] without naming the environment in its diagnostics.
fn load_one(text: &str, environment: Option<&str>) -> Loaded {
    let mut loaded = Loaded { spec: None, environment: environment.map(str::to_owned), diagnostics: Vec::new() };
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(d) => {
            loaded.diagnostics.push(d);
            return loaded;
        }
    };
    let (merged, overlay_diagnostics) = match overlay::apply(&root, environment) {
        Ok(merged) => merged,
        Err(d) => {
            loaded.diagnostics.push(d);
            return loaded;
        }
    };
    loaded.diagnostics.extend(overlay_diagnostics);
    let root_anchor = Span::new(0, 0);
    let typed = de::from_node::<Spec>(&merged, root_anchor);
    loaded.diagnostics.extend(typed.diagnostics.iter().cloned());
    // Overlay sections are not typed with the base, so check their shape here too.
    if environment.is_none() {
        let env_shape = de::from_node::<std::collections::BTreeMap<String, serde::de::IgnoredAny>>(
            &root.get("environments").map_or(Node::new(NodeKind::Null, root_anchor), |e| e.value.clone()),
            root.get("environments").map_or(root_anchor, |e| e.key.span),
        );
        loaded.diagnostics.extend(env_shape.diagnostics);
    }
    // Checks across sections need every value the user wrote; after a value
    // had to be dropped they would report its absence as a second problem.
    if let (Some(spec), true) = (&typed.value, typed.complete) {
        loaded.diagnostics.extend(validate::validate(spec, &merged));
    }
    suppress(text, &validate::judged_spans(&merged), &mut loaded.diagnostics);
    sort(&mut loaded.diagnostics);
    if !loaded.has_errors() {
        loaded.spec = typed.value;
    }
    loaded
}

/// `# berth: ignore[CODE] reason` at the end of a diagnostic's line, or as
/// a comment line right above it, accepts it: it stays in the output as information with
/// the reason. Only warnings and the secret check's judgment of an
/// environment variable's value (`S301` on `services.*.env`, the spans in
/// `judged`) can be accepted, and only with a reason; a spec that cannot be
/// read, or a secret pasted where a reference belongs, cannot be argued with.
fn suppress(text: &str, judged: &[Span], diagnostics: &mut [Diagnostic]) {
    let lines: Vec<&str> = text.lines().collect();
    for d in diagnostics.iter_mut() {
        let Some(span) = d.span else { continue };
        let acceptable = d.severity == Severity::Warning || (d.code == codes::SECRET_IN_SPEC && judged.contains(&span));
        if !acceptable {
            continue;
        }
        let end = span.start.min(text.len());
        let line = text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count();
        let marker = format!("# berth: ignore[{}]", d.code.id);
        // On the line itself, after the value; above it, as a comment line of its own.
        let above = line.checked_sub(1).filter(|l| lines.get(*l).is_some_and(|t| t.trim_start().starts_with('#')));
        let found = [Some(line), above].into_iter().flatten().find_map(|l| {
            let written = lines.get(l)?;
            let at = written.find(&marker)?;
            Some(written[at + marker.len()..].trim().to_owned())
        });
        match found {
            Some(reason) if !reason.is_empty() => {
                d.severity = Severity::Info;
                d.message = format!("{} (accepted: {reason})", d.message);
            }
            Some(_) => {
                let needs = format!("`{marker}` needs a reason after it: why this is not a problem here");
                d.help = Some(match d.help.take() {
                    Some(help) => format!("{help}; {needs}"),
                    None => needs,
                });
            }
            None => {}
        }
    }
}

/// Checks the base and every declared environment, reporting each problem
/// once. This is what `berth validate` runs without `--env`. A problem only
/// environments' overlays cause names them, as [`load`] does.
pub fn check_all(text: &str) -> Vec<Diagnostic> {
    let base = load_one(text, None).diagnostics;
    let base_clean = !base.iter().any(Diagnostic::is_error);
    let mut caused: Vec<(Diagnostic, Vec<OverlayPlace>)> = Vec::new();
    let mut diagnostics = base.clone();
    if let Ok(root) = yaml::parse(text) {
        for (name, _) in overlay::declared(&root) {
            let place =
                overlay::place(&root, &name).map(|(key, extent)| OverlayPlace { name: name.clone(), key, extent });
            for d in load_one(text, Some(&name)).diagnostics {
                match &place {
                    Some(place) if caused_by_overlay(&d, &base, base_clean, place) => {
                        match caused.iter().position(|(c, _)| *c == d) {
                            Some(i) => caused[i].1.push(place.clone()),
                            None => caused.push((d, vec![place.clone()])),
                        }
                    }
                    _ => {
                        if !diagnostics.contains(&d) {
                            diagnostics.push(d);
                        }
                    }
                }
            }
        }
    }
    for (mut d, places) in caused {
        mark_environments(&mut d, &places);
        diagnostics.push(d);
    }
    sort(&mut diagnostics);
    diagnostics
}

/// The environments `text` declares, in file order; empty when it does not parse.
pub fn environments(text: &str) -> Vec<String> {
    yaml::parse(text).map(|root| overlay::declared(&root).into_iter().map(|(n, _)| n).collect()).unwrap_or_default()
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| (d.span.map_or(0, |s| s.start), std::cmp::Reverse(d.severity == Severity::Error)));
}

#[cfg(test)]
mod tests {
    use berth_diagnostics::{Diagnostic, Severity, SourceFile, render_json};

    use super::{check_all, codes, load};

    const BASE: &str = "version: 1\nname: shop\nservices:\n  api:\n    image: ghcr.io/acme/api:1.0\n    ports: { http: 8080 }\n    health: { readiness: { http: /ready } }\n";

    /// 1-based line and column of a diagnostic's start.
    fn at(text: &str, d: &Diagnostic) -> (usize, usize) {
        let place = SourceFile::new("berth.yaml", text).line_col(d.span.map_or(0, |s| s.start));
        (place.line, place.column)
    }

    fn line_of(text: &str, span: berth_diagnostics::Span) -> usize {
        SourceFile::new("berth.yaml", text).line_col(span.start).line
    }

    fn with_code(diagnostics: &[Diagnostic], code: berth_diagnostics::Code) -> Vec<&Diagnostic> {
        diagnostics.iter().filter(|d| d.code == code).collect()
    }

    #[test]
    fn a_cpu_amount_past_any_machine_is_an_error_at_its_place() {
        let text = format!("{BASE}    resources:\n      limits: {{ cpu: 18014398509481985m }}\n");
        let loaded = load(&text, None);
        assert!(loaded.spec.is_none(), "the spec is refused");
        let found = with_code(&loaded.diagnostics, codes::OUT_OF_RANGE);
        let [d] = found.as_slice() else { panic!("one S105: {:?}", loaded.diagnostics) };
        assert!(d.is_error());
        assert_eq!(at(&text, d), (9, 22), "line and column of the value");
        for part in ["`services.api.resources.limits.cpu`", "`18014398509481985m`", "1024 cores"] {
            assert!(d.message.contains(part), "the message names {part}: {}", d.message);
        }
    }

    #[test]
    fn an_integer_out_of_range_names_its_key_and_the_bound() {
        let text = BASE.replace("http: 8080", "http: 70000");
        let loaded = load(&text, None);
        let found = with_code(&loaded.diagnostics, codes::OUT_OF_RANGE);
        let [d] = found.as_slice() else { panic!("one S105: {:?}", loaded.diagnostics) };
        assert_eq!(d.message, "`services.api.ports.http` is 70000, above the maximum, 65535");
        assert_eq!(at(&text, d), (6, 20));
    }

    const OVERLAYS: &str = "environments:\n  prod:\n    services:\n      api:\n        ports: { http: 0 }\n  staging:\n    services:\n      api:\n        replicas: -1\n";

    #[test]
    fn a_problem_only_an_overlay_causes_points_at_the_overlay_and_names_the_environment() {
        let text = format!("{BASE}{OVERLAYS}");
        assert!(with_code(&load(&text, None).diagnostics, codes::OUT_OF_RANGE).is_empty(), "the base is fine");

        let prod = load(&text, Some("prod"));
        let found = with_code(&prod.diagnostics, codes::OUT_OF_RANGE);
        let [d] = found.as_slice() else { panic!("one S105: {:?}", prod.diagnostics) };
        assert!(d.is_error());
        assert_eq!(at(&text, d), (12, 24), "at the overlay's `http: 0`");
        assert!(d.message.ends_with("(in environment `prod`)"), "{}", d.message);
        let related = d.related.iter().find(|r| r.message.contains("`prod`")).expect("a label on `prod:`");
        assert_eq!(line_of(&text, related.span), 9);
        // The JSON output carries both: the message and the related place.
        let file = SourceFile::new("berth.yaml", text.clone());
        let json = render_json(&file, std::slice::from_ref(*d));
        assert_eq!(json[0]["start"]["line"], serde_json::json!(12));
        assert!(json[0]["message"].as_str().is_some_and(|m| m.contains("`prod`")), "{}", json[0]);
        assert!(
            json[0]["related"].as_array().is_some_and(|r| r.iter().any(|r| r["start"]["line"] == serde_json::json!(9)
                && r["message"].as_str().is_some_and(|m| m.contains("`prod`")))),
            "{}",
            json[0]
        );

        // A typed value in another overlay: named with its key and its environment.
        let staging = load(&text, Some("staging"));
        let found = with_code(&staging.diagnostics, codes::OUT_OF_RANGE);
        let [d] = found.as_slice() else { panic!("one S105: {:?}", staging.diagnostics) };
        assert_eq!(at(&text, d), (16, 19));
        assert_eq!(d.message, "`services.api.replicas` is -1, below the minimum, 0 (in environment `staging`)");

        // Without `--env`: each once, each with its environment.
        let all = check_all(&text);
        let found = with_code(&all, codes::OUT_OF_RANGE);
        assert_eq!(found.len(), 2, "{all:?}");
        assert!(found.iter().any(|d| at(&text, d) == (12, 24) && d.message.contains("`prod`")), "{found:?}");
        assert!(found.iter().any(|d| at(&text, d) == (16, 19) && d.message.contains("`staging`")), "{found:?}");
    }

    #[test]
    fn a_contradiction_an_overlay_completes_names_the_environment() {
        let text = format!(
            "{BASE}    replicas: 3\nenvironments:\n  prod:\n    services:\n      api:\n        autoscale: {{ min: 2, max: 6, cpu: 70 }}\n"
        );
        assert!(
            with_code(&check_all(&BASE.replace("ports", "replicas: 3\n    ports")), codes::CONTRADICTION).is_empty()
        );
        let all = check_all(&text);
        let found = with_code(&all, codes::CONTRADICTION);
        let d = found.iter().find(|d| d.message.contains("autoscale")).expect("replicas with autoscale");
        assert!(d.message.contains("(in environment `prod`)"), "{}", d.message);
        assert!(d.related.iter().any(|r| line_of(&text, r.span) == 13), "autoscale, in the overlay: {:?}", d.related);
    }

    #[test]
    fn a_problem_the_base_has_is_reported_once_without_an_environment() {
        let text = format!(
            "{BASE}    replicas: 0\nenvironments:\n  prod:\n    services:\n      api:\n        image: ghcr.io/acme/api:2.0\n"
        );
        let all = check_all(&text);
        let zero: Vec<&Diagnostic> = all.iter().filter(|d| d.message.contains("0 replicas")).collect();
        assert_eq!(zero.len(), 1, "{all:?}");
        assert!(!zero[0].message.contains("environment"), "{}", zero[0].message);
    }

    #[test]
    fn settings_about_secrets_stay_clean_and_a_pasted_key_is_an_error() {
        let text = format!(
            "{BASE}    env:\n      REFRESH_TOKEN_EXPIRATION_DAYS: 30\n      PASSWORD_MIN_LENGTH: 12\n      PASSWORD_HASHER: bcrypt\n      SESSION_TTL: 15m\n      SESSION_SECRET: \"q8Zr2LxW9vNp4KtB7mYc\"\n"
        );
        let loaded = load(&text, None);
        let found = with_code(&loaded.diagnostics, codes::SECRET_IN_SPEC);
        let [d] = found.as_slice() else { panic!("one S301: {:?}", loaded.diagnostics) };
        assert!(d.is_error());
        assert!(d.message.contains("`SESSION_SECRET`"), "{}", d.message);
        assert_eq!(at(&text, d), (13, 23));
        assert!(loaded.spec.is_none());
    }

    #[test]
    fn an_ignore_with_a_reason_accepts_the_secret_check() {
        let text = format!(
            "{BASE}    env:\n      # berth: ignore[S301] the vendor's published test key\n      STRIPE_KEY: \"sk_test_4eC39HqLyjWDarjtT1zdp7dc\"\n      API_TOKEN: hunter2 # berth: ignore[S301] the demo's published password\n      ADMIN_TOKEN: hunter3\n"
        );
        let loaded = load(&text, None);
        let found = with_code(&loaded.diagnostics, codes::SECRET_IN_SPEC);
        assert_eq!(found.len(), 3, "{found:?}");
        let by_var = |var: &str| *found.iter().find(|d| d.message.contains(var)).unwrap_or_else(|| panic!("{var}"));
        let stripe = by_var("`STRIPE_KEY`");
        assert_eq!(stripe.severity, Severity::Info);
        assert!(stripe.message.ends_with("(accepted: the vendor's published test key)"), "{}", stripe.message);
        let token = by_var("`API_TOKEN`");
        assert_eq!(token.severity, Severity::Info);
        assert!(token.message.contains("(accepted: the demo's published password)"), "{}", token.message);
        // An ignore at the end of the line above belongs to that line.
        assert_eq!(by_var("`ADMIN_TOKEN`").severity, Severity::Warning);
        assert!(loaded.spec.is_some(), "accepted problems do not block");
    }

    #[test]
    fn an_ignore_needs_a_reason_and_a_pasted_reference_cannot_be_ignored() {
        let text =
            format!("{BASE}    env:\n      # berth: ignore[S301]\n      SESSION_SECRET: \"q8Zr2LxW9vNp4KtB7mYc\"\n");
        let loaded = load(&text, None);
        let found = with_code(&loaded.diagnostics, codes::SECRET_IN_SPEC);
        let [d] = found.as_slice() else { panic!("one S301: {:?}", loaded.diagnostics) };
        assert!(d.is_error());
        assert!(d.help.as_deref().is_some_and(|h| h.contains("needs a reason")), "{:?}", d.help);

        let text = format!(
            "{BASE}    uses: [db]\ndependencies:\n  db:\n    kind: postgres\n    # berth: ignore[S301] only a test database\n    password: hunter2\n"
        );
        let loaded = load(&text, None);
        let found = with_code(&loaded.diagnostics, codes::SECRET_IN_SPEC);
        let [d] = found.as_slice() else { panic!("one S301: {:?}", loaded.diagnostics) };
        assert!(d.is_error(), "a secret pasted where a reference belongs stays an error");
        assert!(loaded.spec.is_none());
    }
}
