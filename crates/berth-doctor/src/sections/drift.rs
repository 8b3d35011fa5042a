//! Drift: what runs against what the spec says now. `berth up` records the
//! plan it started from; a service whose plan changed since runs the old
//! definition until it is restarted. Settings drift of dependencies is
//! reported by the dependencies section, which holds the connection.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::report::{Check, Section, Status};
use crate::{Inputs, Running};

pub fn check(inputs: &Inputs, running: &Running) -> Vec<Check> {
    let Some(state) = &running.state else { return Vec::new() };
    let mut out = Vec::new();
    let current = serde_json::to_value(&inputs.plan).unwrap_or(Value::Null);
    match &running.started_from {
        Some(started) => {
            let mut changed = 0;
            for list in ["services", "dependencies"] {
                let (then, now) = (by_name(&started[list]), by_name(&current[list]));
                for (name, now_value) in &now {
                    let Some(then_value) = then.get(name) else {
                        out.push(
                            Check::new(
                                Section::Drift,
                                *name,
                                Status::Warn,
                                "in the spec but not in the running stack (added since berth up started)",
                            )
                            .hint("restart the stack to start it: berth down, then berth up"),
                        );
                        changed += 1;
                        continue;
                    };
                    let fields = differing(then_value, now_value);
                    if !fields.is_empty() {
                        out.push(
                            Check::new(
                                Section::Drift,
                                *name,
                                Status::Warn,
                                format!("the spec changed since berth up started it: {}", fields.join(", ")),
                            )
                            .hint("the old definition runs until the stack restarts: berth down, then berth up"),
                        );
                        changed += 1;
                    }
                }
                for name in then.keys().filter(|n| !now.contains_key(*n)) {
                    out.push(
                        Check::new(Section::Drift, *name, Status::Warn, "still running, but no longer in the spec")
                            .hint("restart the stack to stop it"),
                    );
                    changed += 1;
                }
            }
            let fields = differing(&started["edge"], &current["edge"]);
            if !fields.is_empty() {
                out.push(Check::new(
                    Section::Drift,
                    "edge",
                    Status::Warn,
                    format!("the spec changed since berth up started the edge: {}", fields.join(", ")),
                ));
                changed += 1;
            }
            if changed == 0 {
                out.push(Check::new(
                    Section::Drift,
                    "spec",
                    Status::Ok,
                    "the running stack was started from the spec as it is now",
                ));
            }
        }
        None => out.push(Check::new(
            Section::Drift,
            "spec",
            Status::Skip,
            "the running stack did not record the plan it started from",
        )),
    }
    // Replicas of one service on different versions: a canary waits, or a deploy stopped half way.
    let mut versions: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &state.replicas {
        if inputs.plan.services.iter().any(|s| s.name == r.service) {
            versions.entry(&r.service).or_default().insert(r.version.as_deref().unwrap_or("(none)"));
        }
    }
    for (service, set) in versions.into_iter().filter(|(_, set)| set.len() > 1) {
        let listed: Vec<&str> = set.into_iter().collect();
        out.push(
            Check::new(
                Section::Drift,
                service,
                Status::Warn,
                format!("replicas run different versions: {}", listed.join(", ")),
            )
            .hint(format!("a canary waits for `berth promote {service}` or `berth rollback {service}`")),
        );
    }
    out
}

fn by_name(list: &Value) -> BTreeMap<&str, &Value> {
    list.as_array().into_iter().flatten().filter_map(|v| Some((v["name"].as_str()?, v))).collect()
}

/// Top-level fields whose values differ, sorted.
fn differing(then: &Value, now: &Value) -> Vec<String> {
    match (then.as_object(), now.as_object()) {
        (Some(a), Some(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
        }
        _ if then == now => Vec::new(),
        _ => vec!["(all of it)".to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_lists_changed_fields() {
        let then = serde_json::json!({"name": "api", "replicas": {"count": 2}, "env": [], "image": "a"});
        let now = serde_json::json!({"name": "api", "replicas": {"count": 3}, "env": [], "command": "x"});
        assert_eq!(differing(&then, &now), ["command", "image", "replicas"]);
        assert!(differing(&Value::Null, &Value::Null).is_empty());
        assert_eq!(differing(&Value::Null, &now), ["(all of it)"]);
    }
}
