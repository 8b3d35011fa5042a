use crate::LineIndex;

/// A named text that diagnostics point into.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    index: LineIndex,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let index = LineIndex::new(&text);
        Self { name: name.into(), text, index }
    }

    /// The text of 1-based lines `first..=last` (empty past the end).
    pub fn lines(&self, first: usize, last: usize) -> &str {
        self.text.get(self.index.lines(self.text.len(), first, last)).unwrap_or("")
    }

    pub fn line_col(&self, offset: usize) -> crate::LineCol {
        self.index.line_col(&self.text, offset)
    }
}
