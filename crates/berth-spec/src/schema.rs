//! The JSON Schema of `berth.yaml`, generated from the Rust types so it can
//! never disagree with what berth reads. Editors use it for completion via
//! `# yaml-language-server: $schema=...`.

use serde_json::{Map, Value, json};

use crate::Spec;

pub const SCHEMA_ID: &str = "https://berth.dev/schema/berth-v1.json";

/// Keys that an environment overlay may not set.
const NOT_IN_OVERLAY: &[&str] = &["version", "name", "environments"];

/// The schema as a JSON value.
pub fn json_schema_value() -> Value {
    let mut schema = schemars::schema_for!(Spec).to_value();
    scalars_as_text(&mut schema);
    let Some(root) = schema.as_object_mut() else {
        return schema;
    };
    root.insert("$id".to_owned(), json!(SCHEMA_ID));
    root.insert("title".to_owned(), json!("berth.yaml"));
    let overlay = overlay_schema(root);
    if let Some(defs) = root.get_mut("$defs").and_then(Value::as_object_mut) {
        let partials: Vec<(String, Value)> = defs
            .iter()
            .filter(|(name, _)| name.as_str() != "Overlay")
            .map(|(name, def)| (format!("Partial{name}"), partial(def)))
            .collect();
        defs.extend(partials);
        defs.insert("Overlay".to_owned(), overlay);
    }
    schema
}

/// The schema as pretty-printed JSON with a trailing newline.
pub fn json_schema() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema_value()).unwrap_or_default();
    text.push('\n');
    text
}

/// berth reads an unquoted number or boolean as text where text is expected
/// (`max_connections: 200`, `version: 16`); say so where people write them:
/// free-form maps (settings, env, labels) and versions.
fn scalars_as_text(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(extra) = map.get_mut("additionalProperties")
                && extra.get("type") == Some(&json!("string"))
            {
                *extra = json!({ "type": ["string", "number", "boolean"] });
            }
            if let Some(version) = map.get_mut("properties").and_then(|p| p.get_mut("version"))
                && version.get("type") == Some(&json!(["string", "null"]))
            {
                version["type"] = json!(["string", "number", "null"]);
            }
            map.values_mut().for_each(scalars_as_text);
        }
        Value::Array(items) => items.iter_mut().for_each(scalars_as_text),
        _ => {}
    }
}

/// The top level with every key optional and references to partial types.
fn overlay_schema(root: &Map<String, Value>) -> Value {
    let mut properties = root.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    properties.retain(|k, _| !NOT_IN_OVERLAY.contains(&k.as_str()));
    nullable_properties(&mut properties);
    let mut overlay = json!({
        "description": "An environment overlay: any top-level keys except `version`, `name` and `environments`, each optional, merged over the base.",
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": Value::Object(properties),
    });
    rewrite_refs(&mut overlay);
    nullable_map_values(&mut overlay);
    overlay
}

/// A copy of a definition with nothing required, so an overlay can set one
/// key, and `null` allowed everywhere, since `null` removes a key.
fn partial(def: &Value) -> Value {
    let mut copy = def.clone();
    strip_required(&mut copy);
    rewrite_refs(&mut copy);
    if let Some(Value::Object(props)) = copy.get_mut("properties") {
        nullable_properties(props);
    }
    nullable_map_values(&mut copy);
    copy
}

/// In an overlay a map entry may be `null` too (`receivers: { pager: null }`
/// removes the base's `pager`), as the loader reads it.
fn nullable_map_values(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(entry) = map.get_mut("additionalProperties")
                && entry.is_object()
            {
                *entry = json!({ "anyOf": [entry.take(), { "type": "null" }] });
            }
            map.values_mut().for_each(nullable_map_values);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_map_values),
        _ => {}
    }
}

fn nullable_properties(properties: &mut Map<String, Value>) {
    for prop in properties.values_mut() {
        *prop = json!({ "anyOf": [prop.take(), { "type": "null" }] });
    }
}

fn strip_required(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("required");
            map.values_mut().for_each(strip_required);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_required),
        _ => {}
    }
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                *r = format!("#/$defs/Partial{name}");
            }
            map.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_keys_are_optional_and_fixed_keys_absent() {
        let schema = json_schema_value();
        let overlay = &schema["$defs"]["Overlay"];
        assert!(overlay["properties"].get("name").is_none());
        assert!(overlay["properties"].get("services").is_some());
        assert!(schema["$defs"]["PartialDependency"].get("required").is_none());
        assert!(schema["$defs"]["Dependency"]["required"].is_array());
    }
}
