//! Kubernetes objects read the way the API server reads them: into the
//! typed k8s-openapi structs, straight from the span-keeping YAML tree, so
//! every problem points at its key or value. [`problems`] is a serde
//! `Deserializer` over [`Node`] that notes, instead of stopping at:
//!
//! - keys that no field of their struct has (serde hands every struct its
//!   field names; k8s-openapi ignores other keys, the API server refuses
//!   them under strict validation and drops them otherwise);
//! - strings where an integer or a boolean is wanted, when they cannot be a
//!   placeholder some template tool replaces: a quoted number (`"8080"`), a
//!   port name (`"http"`), a quoted `"true"`.
//!
//! What the API server accepts is accepted as it does: a number where a
//! quantity is wanted (`cpu: 1`; kubectl sends YAML as JSON), `null` for
//! any optional field. Other mismatches (a number where text is wanted, a
//! string where a list is) are not reported: placeholders stand for
//! anything, and other tools catch them. A value the typed code refuses for
//! another reason (an `IntOrString` written `1.5`) is left out and the
//! object read again, so it hides no other problem.

use std::cell::RefCell;
use std::fmt;

use berth_diagnostics::Span;
use berth_spec::{Entry, Node, NodeKind};
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};

/// One thing the API server refuses in an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A key no field of the struct `parent` (`DeploymentSpec`) has.
    Unknown {
        /// The key's place in the object: `spec.replcas`.
        path: String,
        parent: &'static str,
        /// A field of `parent` whose name is close to the key.
        suggestion: Option<&'static str>,
        /// The key.
        span: Span,
    },
    /// A string where the API wants `expected` (`an integer`).
    Mistyped { path: String, value: String, expected: &'static str, span: Span },
}

/// Reads of one object at most: each one past the first leaves out a value
/// the typed code refused.
const ROUNDS: usize = 32;

/// What the API server refuses in `object`, read as `T`. The `status` is
/// not read: the cluster writes it.
pub fn problems<T: DeserializeOwned>(object: &Node) -> Vec<Problem> {
    let state = State::default();
    if let Some(status) = object.get("status") {
        state.skip.borrow_mut().push(std::ptr::from_ref(&status.value));
    }
    for _ in 0..ROUNDS {
        match T::deserialize(De { node: object, path: String::new(), state: &state }) {
            Err(Error { at: Some(at), .. }) if !state.skipped(at) => state.skip.borrow_mut().push(at),
            _ => break,
        }
    }
    state.problems.into_inner()
}

#[derive(Debug, Default)]
struct State {
    problems: RefCell<Vec<Problem>>,
    /// Values left out of the reads (by identity in the tree).
    skip: RefCell<Vec<*const Node>>,
}

impl State {
    fn skipped(&self, node: *const Node) -> bool {
        self.skip.borrow().iter().any(|p| std::ptr::eq(*p, node))
    }

    /// Notes a problem once, however many reads meet it.
    fn report(&self, problem: Problem) {
        let mut problems = self.problems.borrow_mut();
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
}

#[derive(Debug)]
struct Error {
    message: String,
    /// The value the typed code refused, once known.
    at: Option<*const Node>,
}

impl Error {
    fn new(message: &str) -> Self {
        Self { message: message.to_owned(), at: None }
    }

    /// Blames `node` unless a value inside it is blamed already.
    fn located(mut self, node: &Node) -> Self {
        if self.at.is_none() {
            self.at = Some(std::ptr::from_ref(node));
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self { message: msg.to_string(), at: None }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// A key someone meant as a field name: not a template placeholder
/// (`{{ ... }}`, `${...}`) or a patch directive (`$patch`, `$retainKeys`).
fn plain(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A string the API server refuses where it wants an integer and that no
/// template tool stands in for: a quoted number (`"8080"`) or a port name
/// (`"http"`, lowercase letters, digits and dashes as Kubernetes names
/// ports). Placeholders (`${PORT}`, `__PORT__`, `REPLICAS`) are left alone.
fn never_an_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let number = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let name = s.len() <= 15
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    number || name
}

fn visit_int<'de, V: Visitor<'de>>(i: i128, visitor: V) -> Result<V::Value, Error> {
    if let Ok(v) = i64::try_from(i) {
        visitor.visit_i64(v)
    } else if let Ok(v) = u64::try_from(i) {
        visitor.visit_u64(v)
    } else {
        visitor.visit_i128(i)
    }
}

/// One value of the tree, at `path` (`spec.template.spec.containers[0]`).
struct De<'n, 's> {
    node: &'n Node,
    path: String,
    state: &'s State,
}

impl De<'_, '_> {
    fn mistyped(&self, expected: &'static str, value: &str) {
        self.state.report(Problem::Mistyped {
            path: self.path.clone(),
            value: value.to_owned(),
            expected,
            span: self.node.span,
        });
    }

    /// Integers of every width: the typed code checks the range.
    fn integer<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let node = self.node;
        match &node.kind {
            NodeKind::Int(i) => visit_int(*i, visitor),
            NodeKind::Str(s) => {
                if never_an_integer(s) {
                    self.mistyped("an integer", s);
                }
                visitor.visit_u8(0)
            }
            _ => visitor.visit_u8(0),
        }
    }
}

impl<'de> de::Deserializer<'de> for De<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let node = self.node;
        match &node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Int(i) => visit_int(*i, visitor),
            NodeKind::Float(f) => visitor.visit_f64(*f),
            NodeKind::Str(s) => visitor.visit_str(s),
            NodeKind::Seq(items) => visitor.visit_seq(Items::new(items, self.path, self.state)),
            NodeKind::Map(entries) => visitor.visit_map(Entries::new(entries, self.path, self.state)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let node = self.node;
        match &node.kind {
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Str(s) => {
                // A quoted `"true"`; `yes`/`on` are booleans as kubectl reads YAML.
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") {
                    self.mistyped("a boolean", s);
                }
                visitor.visit_bool(false)
            }
            _ => visitor.visit_bool(false),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Int(i) => visit_int(i, visitor),
            NodeKind::Float(f) => visitor.visit_f64(f),
            _ => visitor.visit_f64(0.0),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let node = self.node;
        match &node.kind {
            NodeKind::Str(s) => visitor.visit_str(s),
            _ => visitor.visit_str(&node.scalar_text().unwrap_or_default()),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let node = self.node;
        let items: &[Node] = match &node.kind {
            NodeKind::Seq(items) => items,
            _ => &[],
        };
        visitor.visit_seq(Items::new(items, self.path, self.state))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let node = self.node;
        let entries: &[Entry] = match &node.kind {
            NodeKind::Map(entries) => entries,
            _ => &[],
        };
        visitor.visit_map(Entries::new(entries, self.path, self.state))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let node = self.node;
        let entries: &[Entry] = match &node.kind {
            NodeKind::Map(entries) => entries,
            _ => &[],
        };
        for entry in entries {
            let key = entry.key.name.as_str();
            if fields.contains(&key)
                || !entry.key.is_text
                || !plain(key)
                || self.state.skipped(std::ptr::from_ref(&entry.value))
            {
                continue;
            }
            self.state.report(Problem::Unknown {
                path: join(&self.path, key),
                parent: name,
                suggestion: berth_spec::did_you_mean(key, fields.iter().copied()),
                span: entry.key.span,
            });
        }
        visitor.visit_map(Entries::new(entries, self.path, self.state))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// Keys no field takes: not read at all.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct tuple tuple_struct enum identifier
    }
}

/// The entries of a mapping, less those left out.
struct Entries<'n, 's> {
    entries: std::slice::Iter<'n, Entry>,
    path: String,
    state: &'s State,
    /// The entry whose key was read last.
    pending: Option<&'n Entry>,
}

impl<'n, 's> Entries<'n, 's> {
    fn new(entries: &'n [Entry], path: String, state: &'s State) -> Self {
        Self { entries: entries.iter(), path, state, pending: None }
    }
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        for entry in self.entries.by_ref() {
            if self.state.skipped(std::ptr::from_ref(&entry.value)) {
                continue;
            }
            self.pending = Some(entry);
            return seed.deserialize(StrDeserializer::<Error>::new(&entry.key.name)).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some(entry) = self.pending.take() else { return Err(Error::new("a value without a key")) };
        let value = De { node: &entry.value, path: join(&self.path, &entry.key.name), state: self.state };
        seed.deserialize(value).map_err(|e| e.located(&entry.value))
    }
}

/// The items of a sequence, less those left out.
struct Items<'n, 's> {
    items: std::iter::Enumerate<std::slice::Iter<'n, Node>>,
    path: String,
    state: &'s State,
}

impl<'n, 's> Items<'n, 's> {
    fn new(items: &'n [Node], path: String, state: &'s State) -> Self {
        Self { items: items.iter().enumerate(), path, state }
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        for (index, item) in self.items.by_ref() {
            if self.state.skipped(std::ptr::from_ref(item)) {
                continue;
            }
            let value = De { node: item, path: format!("{}[{index}]", self.path), state: self.state };
            return seed.deserialize(value).map(Some).map_err(|e| e.located(item));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Service};

    use super::*;

    fn read<T: DeserializeOwned>(text: &str) -> Vec<Problem> {
        let docs = berth_spec::parse_documents(text).unwrap();
        problems::<T>(&docs[0])
    }

    fn paths(problems: &[Problem]) -> Vec<String> {
        problems
            .iter()
            .map(|p| match p {
                Problem::Unknown { path, suggestion, .. } => format!("unknown {path} {suggestion:?}"),
                Problem::Mistyped { path, value, .. } => format!("mistyped {path} {value}"),
            })
            .collect()
    }

    const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  creationTimestamp: null
  labels: { app: web, version: 1.2 }
  annotations: { replicas: 3 }
spec:
  replicas: 2
  selector:
    matchLabels: { app: web }
  strategy:
    rollingUpdate: { maxSurge: 25%, maxUnavailable: 0 }
  template:
    metadata:
      labels: { app: web }
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: web
          image: ghcr.io/acme/web:1.4.2
          ports:
            - { name: http, containerPort: 8080, protocol: TCP }
          resources:
            requests: { cpu: 1, memory: 128974848 }
            limits: { cpu: 0.5, memory: 256Mi }
          readinessProbe:
            httpGet: { path: /ready, port: http }
          securityContext: { readOnlyRootFilesystem: yes }
status:
  replicas: \"whatever\"
  bogus: 1
";

    #[test]
    fn valid_objects_have_no_problems() {
        assert_eq!(paths(&read::<Deployment>(DEPLOYMENT)), Vec::<String>::new());
        let service = "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  selector: { app: web }\n  ports:\n    - { name: http, port: 80, targetPort: http }\n    - { port: 443, targetPort: 8443 }\n";
        assert_eq!(paths(&read::<Service>(service)), Vec::<String>::new());
        let config = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: web }\ndata:\n  PORT: 8080\n  DEBUG: true\n";
        assert_eq!(paths(&read::<ConfigMap>(config)), Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_and_strings_for_integers_are_found_where_written() {
        let text = DEPLOYMENT
            .replace("  replicas: 2\n", "  replcas: 2\n")
            .replace("containerPort: 8080", "containerPort: \"http\"")
            .replace("terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: \"30\"");
        let found = read::<Deployment>(&text);
        assert_eq!(
            paths(&found),
            [
                "unknown spec.replcas Some(\"replicas\")",
                "mistyped spec.template.spec.terminationGracePeriodSeconds 30",
                "mistyped spec.template.spec.containers[0].ports[0].containerPort http",
            ]
        );
        let Problem::Unknown { span, parent, .. } = &found[0] else { panic!("{found:?}") };
        assert_eq!(&text[span.start..span.end], "replcas");
        assert_eq!(*parent, "DeploymentSpec");
        let Problem::Mistyped { span, .. } = &found[2] else { panic!("{found:?}") };
        assert!(text[span.start..span.end].contains("http"), "{span:?}");
    }

    #[test]
    fn case_mistakes_are_suggested() {
        let service = "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  ports:\n    - { port: 80, targetport: 8080 }\n";
        assert_eq!(paths(&read::<Service>(service)), ["unknown spec.ports[0].targetport Some(\"targetPort\")"]);
    }

    #[test]
    fn placeholders_and_patch_directives_are_left_alone() {
        let text = DEPLOYMENT
            .replace("  replicas: 2\n", "  replicas: ${REPLICAS}\n  $patch: replace\n")
            .replace("containerPort: 8080", "containerPort: __PORT__");
        assert_eq!(paths(&read::<Deployment>(&text)), Vec::<String>::new());
    }

    #[test]
    fn a_refused_value_hides_nothing_after_it() {
        // `1.5` is no IntOrString: that value is left out and the rest still read.
        let text = DEPLOYMENT.replace("maxSurge: 25%", "maxSurge: 1.5").replace("readinessProbe:", "readinesProbe:");
        assert_eq!(
            paths(&read::<Deployment>(&text)),
            ["unknown spec.template.spec.containers[0].readinesProbe Some(\"readinessProbe\")"]
        );
    }
}
