//! The generated JSON Schema is what editors check specs against. It must
//! accept every example (base and overlays) and reject what berth rejects for
//! shape reasons, or editors would flag good specs and miss bad ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use serde_json::Value;

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&berth_spec::schema::json_schema_value()).unwrap()
}

/// YAML to JSON through serde-saphyr, as an editor's YAML server would see it.
fn as_json(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

#[test]
fn schema_accepts_every_example() {
    let validator = validator();
    for (name, path) in berth_test_support::example_specs() {
        let value = as_json(&std::fs::read_to_string(&path).unwrap());
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "example {name}: {errors:#?}");
    }
}

#[test]
fn schema_rejects_unknown_keys_and_literal_passwords() {
    let validator = validator();
    for text in [
        "version: 1\nname: shop\nservices:\n  api: { replcas: 3 }\n",
        "version: 1\nname: shop\ndependencies:\n  db: { kind: postgres, password: hunter2 }\n",
        "version: 1\nname: shop\nenvironments:\n  prod: { name: other }\n",
        "version: 1\nname: shop\ndeploy: { strategy: canery }\n",
    ] {
        assert!(!validator.is_valid(&as_json(text)), "schema should reject:\n{text}");
    }
}

#[test]
fn schema_accepts_what_an_overlay_removes() {
    // `null` removes a map entry in an overlay; the loader accepts it, so must the schema.
    let text = "version: 1\nname: x\nservices:\n  web: { image: ghcr.io/a/web:1.0.0, ports: { http: 8080 }, health: { readiness: { http: /r } } }\nsecrets:\n  a: {}\n  b: {}\nmonitoring:\n  receivers:\n    ops: { webhook: { url: \"https://h.example.com/x\" } }\n    pager: { webhook: { url: \"https://p.example.com/x\" } }\nenvironments:\n  dev:\n    secrets: { b: null }\n    monitoring:\n      receivers: { pager: null }\n";
    assert!(berth_spec::load(text, Some("dev")).spec.is_some(), "the loader accepts it");
    let errors: Vec<String> =
        validator().iter_errors(&as_json(text)).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
