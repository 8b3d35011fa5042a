use serde::Serialize;

/// A stable diagnostic code: a short id for scripts and suppressions, and a
/// kebab-case name for people. Codes are never reused once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Code {
    pub id: &'static str,
    pub name: &'static str,
}

impl Code {
    pub const fn new(id: &'static str, name: &'static str) -> Self {
        Self { id, name }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.id, self.name)
    }
}
