use serde::Serialize;

/// 1-based line and column; the column counts characters, as editors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// Maps byte offsets to lines and columns.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { line_starts }
    }

    /// The byte range of 1-based lines `first..=last`, line ends included.
    pub fn lines(&self, text_len: usize, first: usize, last: usize) -> std::ops::Range<usize> {
        let start = |line: usize| self.line_starts.get(line.saturating_sub(1)).copied().unwrap_or(text_len);
        start(first)..start(last + 1)
    }

    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        LineCol { line: line + 1, column }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_characters() {
        let text = "a: 1\nbé: x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(text, 0), LineCol { line: 1, column: 1 });
        assert_eq!(index.line_col(text, 5), LineCol { line: 2, column: 1 });
        // 'é' is two bytes but one column.
        assert_eq!(index.line_col(text, 9), LineCol { line: 2, column: 4 });
        assert_eq!(index.line_col(text, 999), LineCol { line: 3, column: 1 });
        assert_eq!(&text[index.lines(text.len(), 2, 2)], "bé: x\n");
        assert_eq!(&text[index.lines(text.len(), 1, 2)], text);
        assert_eq!(index.lines(text.len(), 3, 9), text.len()..text.len());
    }
}
