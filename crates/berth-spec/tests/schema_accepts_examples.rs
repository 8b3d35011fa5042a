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
