//! CloudFormation templates, YAML or JSON, read with the same YAML reader
//! as every other file. The reader keeps no YAML tags, so a short-form
//! intrinsic function (`!Ref Protect`, `!If [...]`, `!Sub ...`) would read
//! as the plain value after it: values are read here, through
//! [`Resource`], which looks at the text before a value for a tag and
//! treats it, and the long forms (`{"Ref": ...}`, `Fn::...`), as
//! [`Known::Unknown`]: CloudFormation computes them at deploy time.

use berth_diagnostics::{Diagnostic, Span};
use berth_spec::{Node, NodeKind};

/// One template: its first YAML document.
#[derive(Debug, Clone)]
pub struct Template {
    pub file: usize,
    pub document: Node,
}

/// Reads a template. `Ok(None)` when there is nothing to read: an empty
/// file, or JSON that the YAML reader refuses (tabs in some places) but
/// that is valid JSON, so not a template with an error.
pub fn parse(file: usize, text: &str) -> Result<Option<Template>, Diagnostic> {
    match berth_spec::parse_documents(text) {
        Ok(mut documents) if !documents.is_empty() => Ok(Some(Template { file, document: documents.swap_remove(0) })),
        Ok(_) => Ok(None),
        Err(_) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => Ok(None),
        Err(d) => Err(d),
    }
}

/// A value as far as the template says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known<T> {
    /// Not written: CloudFormation's default applies.
    Absent,
    /// Computed at deploy time (`!Ref`, `!If`, `Fn::...`), or of a shape
    /// that is not this value's.
    Unknown,
    Is(T),
}

impl<T> Known<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Known<U> {
        match self {
            Known::Absent => Known::Absent,
            Known::Unknown => Known::Unknown,
            Known::Is(v) => Known::Is(f(v)),
        }
    }
}

/// One entry of `Resources`.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub file: usize,
    /// The logical id.
    pub id: &'a str,
    pub id_span: Span,
    /// `AWS::RDS::DBInstance`
    pub kind: &'a str,
    pub node: &'a Node,
    text: &'a str,
}

impl Template {
    /// The resources with a literal `Type`. `text` is the template's file text.
    pub fn resources<'a>(&'a self, text: &'a str) -> Vec<Resource<'a>> {
        let reader = Reader { text };
        let Known::Is(resources) = reader.entry(&self.document, "Resources") else { return Vec::new() };
        let Some(entries) = resources.as_map() else { return Vec::new() };
        entries
            .iter()
            .filter_map(|e| {
                let Known::Is(kind) = reader.string(&e.value, "Type") else { return None };
                Some(Resource { file: self.file, id: &e.key.name, id_span: e.key.span, kind, node: &e.value, text })
            })
            .collect()
    }
}

impl<'a> Resource<'a> {
    fn reader(&self) -> Reader<'a> {
        Reader { text: self.text }
    }

    /// The `Properties` mapping.
    pub fn properties(&self) -> Known<&'a Node> {
        self.reader().entry(self.node, "Properties")
    }

    /// `Properties.<key>`.
    pub fn property(&self, key: &str) -> Known<&'a Node> {
        match self.properties() {
            Known::Is(properties) => self.reader().entry(properties, key),
            other => other,
        }
    }

    pub fn bool(&self, key: &str) -> Known<bool> {
        self.at(self.properties(), key, Reader::boolean)
    }

    pub fn int(&self, key: &str) -> Known<i64> {
        self.at(self.properties(), key, Reader::integer)
    }

    pub fn string(&self, key: &str) -> Known<&'a str> {
        self.at(self.properties(), key, Reader::string)
    }

    /// `key` of a mapping inside the resource (an ingress rule, an action).
    pub fn bool_in(&self, map: &'a Node, key: &str) -> Known<bool> {
        self.reader().boolean(map, key)
    }

    pub fn int_in(&self, map: &'a Node, key: &str) -> Known<i64> {
        self.reader().integer(map, key)
    }

    pub fn string_in(&self, map: &'a Node, key: &str) -> Known<&'a str> {
        self.reader().string(map, key)
    }

    /// The items of a list property, each a mapping that is written out
    /// (not computed); `None` when the list or any item is not known.
    pub fn maps(&self, list: Known<&'a Node>) -> Option<Vec<&'a Node>> {
        let Known::Is(list) = list else { return None };
        let NodeKind::Seq(items) = &list.kind else { return None };
        items.iter().map(|item| (item.as_map().is_some() && !intrinsic(item)).then_some(item)).collect()
    }

    /// Whether `Properties.<key>` is written the same way in both resources,
    /// tag included (`LoadBalancerArn: !Ref LoadBalancer` in two listeners).
    pub fn same_property(&self, other: &Resource<'_>, key: &str) -> bool {
        match (self.written(key), other.written(key)) {
            (Some((tag, value)), Some((other_tag, other_value))) => tag == other_tag && same(value, other_value),
            _ => false,
        }
    }

    /// `Properties.<key>` as written, with the tag before it (`!Ref`), if any.
    fn written(&self, key: &str) -> Option<(Option<&'a str>, &'a Node)> {
        let Known::Is(properties) = self.properties() else { return None };
        let entry = properties.as_map()?.iter().rev().find(|e| e.key.name == key)?;
        let between = self.text.get(entry.key.span.end..entry.value.span.start.max(entry.key.span.end))?;
        let tag = between
            .split(|c: char| c.is_whitespace() || matches!(c, '[' | '{' | ',' | ':'))
            .find(|t| t.starts_with('!'));
        Some((tag, &entry.value))
    }

    /// Where a finding about `key` points: the key under `Properties`, else the logical id.
    pub fn span(&self, key: &str) -> Span {
        match self.properties() {
            Known::Is(properties) => key_span(properties, key).unwrap_or(self.id_span),
            _ => self.id_span,
        }
    }

    fn at<T>(&self, map: Known<&'a Node>, key: &str, read: fn(&Reader<'a>, &'a Node, &str) -> Known<T>) -> Known<T> {
        match map {
            Known::Is(map) => read(&self.reader(), map, key),
            Known::Absent => Known::Absent,
            Known::Unknown => Known::Unknown,
        }
    }
}

/// The span of `key` in `map` (the last one, as YAML readers keep it).
pub fn key_span(map: &Node, key: &str) -> Option<Span> {
    map.as_map()?.iter().rev().find(|e| e.key.name == key).map(|e| e.key.span)
}

/// Whether two values are written the same way (`!Ref LoadBalancer` twice,
/// or `{"Ref": "LoadBalancer"}` twice), wherever they sit.
pub fn same(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (NodeKind::Map(x), NodeKind::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.key.name == q.key.name && same(&p.value, &q.value))
        }
        (NodeKind::Seq(x), NodeKind::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (x, y) => {
            a.scalar_text().is_some()
                && a.scalar_text() == b.scalar_text()
                && std::mem::discriminant(x) == std::mem::discriminant(y)
        }
    }
}

/// A long-form intrinsic function: `{"Ref": ...}`, `{"Fn::If": ...}`, `{"Condition": ...}`.
fn intrinsic(node: &Node) -> bool {
    match node.as_map() {
        Some([only]) => only.key.name == "Ref" || only.key.name == "Condition" || only.key.name.starts_with("Fn::"),
        _ => false,
    }
}

/// Reads values of mappings, with tags in view.
#[derive(Debug, Clone, Copy)]
struct Reader<'a> {
    text: &'a str,
}

impl<'a> Reader<'a> {
    /// The value of `key` in `map` (the last one, as YAML readers keep it).
    fn entry(&self, map: &'a Node, key: &str) -> Known<&'a Node> {
        if intrinsic(map) {
            return Known::Unknown;
        }
        let Some(entries) = map.as_map() else { return Known::Unknown };
        let Some(entry) = entries.iter().rev().find(|e| e.key.name == key) else { return Known::Absent };
        if self.tagged(entry.key.span.end, entry.value.span.start) || intrinsic(&entry.value) {
            return Known::Unknown;
        }
        if matches!(entry.value.kind, NodeKind::Null) {
            return Known::Absent;
        }
        Known::Is(&entry.value)
    }

    /// A tag (`!Ref`, `!If`, ...) is written between a key and its value.
    fn tagged(&self, from: usize, to: usize) -> bool {
        let Some(between) = self.text.get(from..to.max(from)) else { return true };
        between
            .split(|c: char| c.is_whitespace() || matches!(c, '[' | '{' | ',' | ':'))
            .any(|token| token.starts_with('!'))
    }

    fn boolean(&self, map: &'a Node, key: &str) -> Known<bool> {
        match self.entry(map, key) {
            Known::Is(node) => match &node.kind {
                NodeKind::Bool(b) => Known::Is(*b),
                NodeKind::Str(s) if s.eq_ignore_ascii_case("true") => Known::Is(true),
                NodeKind::Str(s) if s.eq_ignore_ascii_case("false") => Known::Is(false),
                _ => Known::Unknown,
            },
            Known::Absent => Known::Absent,
            Known::Unknown => Known::Unknown,
        }
    }

    fn integer(&self, map: &'a Node, key: &str) -> Known<i64> {
        match self.entry(map, key) {
            Known::Is(node) => match &node.kind {
                NodeKind::Int(i) => i64::try_from(*i).map_or(Known::Unknown, Known::Is),
                NodeKind::Str(s) => s.trim().parse().map_or(Known::Unknown, Known::Is),
                _ => Known::Unknown,
            },
            Known::Absent => Known::Absent,
            Known::Unknown => Known::Unknown,
        }
    }

    fn string(&self, map: &'a Node, key: &str) -> Known<&'a str> {
        match self.entry(map, key) {
            Known::Is(node) => node.as_str().map_or(Known::Unknown, Known::Is),
            Known::Absent => Known::Absent,
            Known::Unknown => Known::Unknown,
        }
    }
}

/// Whether `text` is a CloudFormation template: `AWSTemplateFormatVersion`
/// at the top, or top-level `Resources` with an `AWS::` type. In JSON the
/// keys are quoted.
pub fn looks_like_template(text: &str) -> bool {
    if text.contains("\"AWSTemplateFormatVersion\"") || top_key(text, "AWSTemplateFormatVersion") {
        return true;
    }
    let yaml_typed = text.lines().any(|l| {
        l.trim_start()
            .strip_prefix("Type")
            .and_then(|r| r.trim_start().strip_prefix(':'))
            .is_some_and(|r| r.trim_start().trim_start_matches(['"', '\'']).starts_with("AWS::"))
    });
    let json_typed = text.match_indices("\"Type\"").any(|(i, m)| {
        text.get(i + m.len()..)
            .and_then(|rest| rest.trim_start().strip_prefix(':'))
            .is_some_and(|r| r.trim_start().starts_with("\"AWS::"))
    });
    (yaml_typed && top_key(text, "Resources")) || (json_typed && text.contains("\"Resources\""))
}

/// A YAML line `key:` at the start of a line.
fn top_key(text: &str, key: &str) -> bool {
    text.lines().any(|l| l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;

    const YAML: &str = "AWSTemplateFormatVersion: \"2010-09-09\"
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      DeletionProtection: !Ref Protect
      StorageEncrypted: true
      MultiAZ: !If [IsProd, true, false]
      BackupRetentionPeriod: \"7\"
      Engine: postgres
      DBName:
        Fn::Sub: \"${AWS::StackName}\"
      Port: !Ref
        Port
";

    #[test]
    fn tags_and_intrinsics_are_unknown() {
        let t = parse(0, YAML).unwrap().unwrap();
        let resources = t.resources(YAML);
        assert_eq!(resources.len(), 1);
        let db = resources[0];
        assert_eq!((db.id, db.kind), ("Db", "AWS::RDS::DBInstance"));
        assert_eq!(db.bool("DeletionProtection"), Known::Unknown);
        assert_eq!(db.bool("StorageEncrypted"), Known::Is(true));
        assert_eq!(db.bool("MultiAZ"), Known::Unknown);
        assert_eq!(db.int("BackupRetentionPeriod"), Known::Is(7));
        assert_eq!(db.string("Engine"), Known::Is("postgres"));
        assert_eq!(db.string("DBName"), Known::Unknown);
        assert_eq!(db.int("Port"), Known::Unknown);
        assert_eq!(db.bool("PubliclyAccessible"), Known::Absent);
        assert_eq!(&YAML[db.span("StorageEncrypted").start..db.span("StorageEncrypted").end], "StorageEncrypted");
    }

    #[test]
    fn json_templates() {
        let json = "{\n\t\"AWSTemplateFormatVersion\": \"2010-09-09\",\n\t\"Resources\": {\"Db\": {\"Type\": \"AWS::RDS::DBCluster\", \"Properties\": {\"StorageEncrypted\": {\"Ref\": \"Encrypt\"}}}}\n}\n";
        assert!(looks_like_template(json));
        if let Some(t) = parse(0, json).unwrap() {
            let db = t.resources(json)[0];
            assert_eq!(db.bool("StorageEncrypted"), Known::Unknown);
        }
    }

    #[test]
    fn what_a_template_looks_like() {
        assert!(looks_like_template(YAML));
        assert!(looks_like_template("Resources:\n  Bucket:\n    Type: 'AWS::S3::Bucket'\n"));
        assert!(looks_like_template("{\"Resources\": {\"B\": {\"Type\": \"AWS::S3::Bucket\"}}}"));
        assert!(!looks_like_template("resources:\n  Type: AWS::S3::Bucket\n"));
        assert!(!looks_like_template("apiVersion: v1\nkind: ConfigMap\n"));
        assert!(!looks_like_template("{\"family\": \"web\", \"containerDefinitions\": []}"));
    }

    #[test]
    fn same_values() {
        let docs =
            berth_spec::parse_documents("a: !Ref Lb\nb: !Ref Lb\nc: {Ref: Lb}\nd: {Ref: Lb}\ne: Other\n").unwrap();
        let v = |k: &str| &docs[0].get(k).unwrap().value;
        assert!(same(v("a"), v("b")));
        assert!(same(v("c"), v("d")));
        assert!(!same(v("a"), v("e")));
    }
}
