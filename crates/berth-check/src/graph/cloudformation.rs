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

    /// `key` of a mapping inside the resource, as a value.
    pub fn entry_in(&self, map: &'a Node, key: &str) -> Known<&'a Node> {
        self.reader().entry(map, key)
    }

    /// The logical id `Properties.<key>` points at ([`target`]).
    pub fn names(&self, key: &str) -> Option<&'a str> {
        let Known::Is(properties) = self.properties() else { return None };
        self.names_in(properties, key)
    }

    /// The logical id `key` of `map` points at ([`target`]):
    /// `TargetGroupArn: !Ref TargetGroup` in an action.
    pub fn names_in(&self, map: &'a Node, key: &str) -> Option<&'a str> {
        if intrinsic(map) {
            return None;
        }
        let entry = map.as_map()?.iter().rev().find(|e| e.key.name == key)?;
        target(self.text, &entry.value)
    }

    /// The items of a list of literal words (`Command: [gunicorn, --timeout, "120"]`);
    /// `None` when the list or any item is computed.
    pub fn literal_strings(&self, list: &'a Node) -> Option<Vec<String>> {
        let NodeKind::Seq(items) = &list.kind else { return None };
        items
            .iter()
            .map(|item| match item.kind {
                NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_)
                    if tag(self.text, item).is_none() =>
                {
                    item.scalar_text()
                }
                _ => None,
            })
            .collect()
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

/// The short-form tag (`!Ref`, `!If`) written right before `node`, if
/// any: the word before a scalar or a mapping, or before a list's `[` or
/// first `-`. YAML's own tags (`!!str`) are not intrinsic functions.
pub fn tag<'t>(text: &'t str, node: &Node) -> Option<&'t str> {
    let found = match &node.kind {
        NodeKind::Seq(items) => match items.first() {
            // The list's span is its opener: the tag is the word before it.
            Some(first) if node.span.start < leftmost(first) => word_before(text, node.span.start),
            // The list's span is its first item's: back over the item's
            // own tag, then the list's `[` or `-`.
            Some(first) if !first.is_collection() => {
                let before = before_scalar(text, first.span.start)?;
                let own = word_before(before, before.len());
                let before = if is_tag(own) { before[..before.len() - own.len()].trim_end() } else { before };
                let before = before.strip_suffix(['[', '-'])?;
                word_before(before, before.len())
            }
            _ => word_before(text, node.span.start),
        },
        NodeKind::Map(_) => word_before(text, node.span.start),
        _ => {
            let before = before_scalar(text, node.span.start)?;
            word_before(before, before.len())
        }
    };
    is_tag(found).then_some(found)
}

/// The text before a scalar that starts at `start`, back over its opening
/// quote or block indicator (`!Sub |`).
fn before_scalar(text: &str, start: usize) -> Option<&str> {
    let before = text.get(..start)?.trim_end();
    let before = before.strip_suffix(['"', '\'']).unwrap_or(before).trim_end();
    let word = word_before(before, before.len());
    Some(if word.starts_with(['|', '>']) { before[..before.len() - word.len()].trim_end() } else { before })
}

fn is_tag(word: &str) -> bool {
    word.len() > 1 && word.starts_with('!') && !word.starts_with("!!")
}

/// Where a node's text begins: a collection's first item, or the node.
fn leftmost(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => items.first().map_or(node.span.start, leftmost),
        NodeKind::Map(entries) => entries.first().map_or(node.span.start, |e| e.key.span.start),
        _ => node.span.start,
    }
}

/// The word that ends right before byte `at`, spaces skipped: `!Ref` in
/// `Key: !Ref X`, `!If` in `[!If [...`.
fn word_before(text: &str, at: usize) -> &str {
    let before = text.get(..at).unwrap_or_default().trim_end();
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace() || matches!(c, '[' | '{' | ','))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &before[start..]
}

/// The intrinsic function `node` calls, by its long name (`Ref`,
/// `Condition`, `Fn::GetAtt`), with its argument: a short-form tag
/// (`!GetAtt Db.Endpoint.Address`: the node itself is the argument) or the
/// long form (`{"Fn::GetAtt": ["Db", "Endpoint.Address"]}`: the value).
pub fn call<'a>(text: &str, node: &'a Node) -> Option<(String, &'a Node)> {
    if let Some(t) = tag(text, node) {
        let name = &t[1..];
        return Some((if matches!(name, "Ref" | "Condition") { name.to_owned() } else { format!("Fn::{name}") }, node));
    }
    match node.as_map() {
        Some([only]) if intrinsic(node) => Some((only.key.name.clone(), &only.value)),
        _ => None,
    }
}

/// The logical id `node` points at with `Ref` or `Fn::GetAtt`, in either
/// form: `Lb` of `!Ref Lb`, `{"Ref": "Lb"}`, `!GetAtt Lb.Arn` and
/// `{"Fn::GetAtt": ["Lb", "Arn"]}`.
pub fn target<'a>(text: &str, node: &'a Node) -> Option<&'a str> {
    let (function, arg) = call(text, node)?;
    match function.as_str() {
        "Ref" => arg.as_str(),
        "Fn::GetAtt" => getatt_resource(arg),
        _ => None,
    }
}

/// The resource a `Fn::GetAtt` argument reads: `Db` of
/// `Db.Endpoint.Address` or of `[Db, Endpoint.Address]`.
pub fn getatt_resource(arg: &Node) -> Option<&str> {
    match &arg.kind {
        NodeKind::Str(s) => s.split_once('.').map(|(resource, _)| resource),
        NodeKind::Seq(items) => items.first()?.as_str(),
        _ => None,
    }
}

/// The variables a `Fn::Sub` string names: `Bucket`, `AWS::Region` and
/// `Db.Endpoint.Address` of `${Bucket}-${AWS::Region}-${Db.Endpoint.Address}`.
/// `${!Literal}` is text, not a variable; names with characters
/// CloudFormation does not take in a variable are left out.
pub fn sub_variables(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_')) {
            out.push(name);
        }
        rest = &after[end + 1..];
    }
    out
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
    // Both signs below contain "AWS": one substring search rules out
    // nearly every file before any line is looked at.
    if !text.contains("AWS") {
        return false;
    }
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

    #[test]
    fn tags_calls_and_targets() {
        let text = "A: !Ref Lb
B: {Ref: Lb}
C: !GetAtt Lb.DNSName
D: !GetAtt [Lb, DNSName]
E: {\"Fn::GetAtt\": [Lb, DNSName]}
F: !If [IsProd, !Ref Lb, other]
G: !Sub |
  ${Lb}
H: \"!Ref Lb\"
I: !!str Lb
J:
  - !Ref Lb
  - Lb
K: !Join
  - ''
  - [a, b]
L: !Equals [!Ref Env, prod]
";
        let docs = berth_spec::parse_documents(text).unwrap();
        let v = |k: &str| &docs[0].get(k).unwrap().value;
        let items = |k: &str| match &v(k).kind {
            NodeKind::Seq(items) => items.clone(),
            _ => panic!("{k} is no list"),
        };
        for k in ["A", "B", "C", "D", "E"] {
            assert_eq!(target(text, v(k)), Some("Lb"), "{k}");
        }
        assert_eq!(tag(text, v("F")), Some("!If"));
        assert_eq!(tag(text, &items("F")[0]), None);
        assert_eq!(tag(text, &items("F")[1]), Some("!Ref"));
        assert_eq!(tag(text, v("G")), Some("!Sub"));
        assert_eq!(tag(text, v("H")), None);
        assert_eq!(tag(text, v("I")), None);
        assert_eq!(tag(text, v("J")), None);
        assert_eq!(tag(text, &items("J")[0]), Some("!Ref"));
        assert_eq!(tag(text, &items("J")[1]), None);
        assert_eq!(tag(text, v("K")), Some("!Join"));
        assert_eq!(tag(text, v("L")), Some("!Equals"));
        assert_eq!(call(text, v("E")).map(|(f, _)| f).as_deref(), Some("Fn::GetAtt"));
        assert_eq!(call(text, v("G")).map(|(f, _)| f).as_deref(), Some("Fn::Sub"));
        assert_eq!(call(text, v("H")), None);
        assert_eq!(sub_variables("${A}-${!B}-${C.Arn}-${AWS::Region}-${x y}"), ["A", "C.Arn", "AWS::Region"]);
    }

    #[test]
    fn references_from_resources() {
        let text = "Resources:
  Listener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Lb
      Port: 443
      DefaultActions:
        - Type: forward
          TargetGroupArn: {Ref: Web}
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: web
          Command: [gunicorn, --timeout, 120, app:app]
          EntryPoint: [!Ref Shell, -c]
";
        let t = parse(0, text).unwrap().unwrap();
        let resources = t.resources(text);
        let (listener, task) = (resources[0], resources[1]);
        assert_eq!(listener.names("LoadBalancerArn"), Some("Lb"));
        assert_eq!(listener.names("Port"), None);
        let actions = listener.maps(listener.property("DefaultActions")).unwrap();
        assert_eq!(listener.names_in(actions[0], "TargetGroupArn"), Some("Web"));
        let container = task.maps(task.property("ContainerDefinitions")).unwrap()[0];
        let Known::Is(command) = task.entry_in(container, "Command") else { panic!("no command") };
        assert_eq!(task.literal_strings(command).unwrap(), ["gunicorn", "--timeout", "120", "app:app"]);
        let Known::Is(entry) = task.entry_in(container, "EntryPoint") else { panic!("no entry point") };
        assert_eq!(task.literal_strings(entry), None);
    }
}
