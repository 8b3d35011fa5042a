use serde::Serialize;

/// Serializes to YAML. The values are plain data built by the renderers,
/// so failure is a bug; it is reported in the text rather than panicking.
pub fn to_string<T: Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value).unwrap_or_else(|e| format!("# berth could not serialize this file: {e}\n"))
}
