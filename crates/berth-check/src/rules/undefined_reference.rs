use berth_diagnostics::Span;
use berth_spec::{Node, NodeKind};

use crate::graph::cloudformation::{call, getatt_resource, sub_variables, tag};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A template that names something it does not define never deploys:
    /// CloudFormation refuses it before creating anything (`Template format
    /// error: Unresolved resource dependencies [Bukcet] in the Resources
    /// block of the template`), often in the pipeline step that was meant to
    /// ship a fix. Reported for `Ref` (`!Ref X`, `{"Ref": "X"}`) and the
    /// variables of `Fn::Sub` (`${X}`) that are no resource, parameter or
    /// pseudo parameter (`AWS::Region`, `AWS::AccountId`, ...);
    /// `Fn::GetAtt` (`!GetAtt X.Arn`, `${X.Arn}`) and `DependsOn` that name
    /// no resource; and a resource's or output's `Condition`, `Fn::If` and
    /// `Condition` in `Conditions` that name no condition. A shell variable
    /// in a `Fn::Sub` user-data script (`${HOME}`) is such a name too: it
    /// must be written `${!HOME}`. Names from a `Fn::Sub` variable map count
    /// as defined. Only whole templates are judged (with
    /// `AWSTemplateFormatVersion`): a template with a `Transform` (SAM and
    /// macros add resources such as a function's `MyFunctionRole`), a
    /// module, `Fn::Transform`, or tags and functions CloudFormation does
    /// not know (`!Include`, `Fn::Merge`: a preprocessor fills them in), and
    /// fragments merged by other tools (the Serverless Framework's
    /// `resources`), are not.
    UndefinedReference {
        code: "A007",
        name: "undefined-reference",
        severity: Error,
        fix: "correct the name or define it (a resource, a parameter, or a condition under `Conditions`); write a literal `${...}` in `Fn::Sub` as `${!...}`",
    }
}

/// CloudFormation's pseudo parameters.
const PSEUDO: [&str; 8] = [
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// Intrinsic functions (and the functions of `Rules`) CloudFormation
/// itself evaluates. `Fn::Transform` and `Fn::ForEach` run macros; any
/// other name is a preprocessor's.
const FUNCTIONS: [&str; 21] = [
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "If",
    "Equals",
    "And",
    "Or",
    "Not",
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "RefAll",
    "ValueOf",
    "ValueOfAll",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// `Ref` and `${X}`: a resource, a parameter or a pseudo parameter.
    Value,
    /// `Fn::GetAtt`, `${X.Attr}` and `DependsOn`.
    Resource,
    Condition,
}

/// One name used where it must be defined.
#[derive(Debug)]
struct Use<'a> {
    span: Span,
    /// How it is used, for the message: `Ref`, `Fn::Sub`, `DependsOn`.
    form: &'static str,
    name: &'a str,
    want: Want,
}

/// The names a template defines.
#[derive(Debug, Default)]
struct Names<'a> {
    resources: Vec<&'a str>,
    parameters: Vec<&'a str>,
    conditions: Vec<&'a str>,
}

impl Names<'_> {
    fn defines(&self, want: Want, name: &str) -> bool {
        match want {
            Want::Value => PSEUDO.contains(&name) || self.resources.contains(&name) || self.parameters.contains(&name),
            Want::Resource => self.resources.contains(&name),
            Want::Condition => self.conditions.contains(&name),
        }
    }

    fn candidates(&self, want: Want, name: &str) -> Vec<&str> {
        match want {
            Want::Value if name.starts_with("AWS::") => PSEUDO.to_vec(),
            Want::Value => self.resources.iter().chain(&self.parameters).copied().collect(),
            Want::Resource => self.resources.clone(),
            Want::Condition => self.conditions.clone(),
        }
    }
}

/// The keys of a top-level section.
fn keys<'a>(doc: &'a Node, section: &str) -> Vec<&'a str> {
    doc.get(section)
        .and_then(|e| e.value.as_map())
        .map(|entries| entries.iter().map(|e| e.key.name.as_str()).collect())
        .unwrap_or_default()
}

/// Whether the template is whole and CloudFormation alone resolves it.
fn judged(doc: &Node, text: &str) -> bool {
    if doc.get("AWSTemplateFormatVersion").is_none() || doc.get("Transform").is_some() {
        return false;
    }
    let modules = doc.get("Resources").and_then(|e| e.value.as_map()).is_some_and(|resources| {
        resources.iter().any(|r| {
            r.value
                .get("Type")
                .and_then(|t| t.value.as_str())
                .is_some_and(|t| t.ends_with("::MODULE") || t.starts_with("AWS::Serverless::"))
        })
    });
    if modules {
        return false;
    }
    // The Serverless Framework's variables: a fragment it fills in and merges.
    if ["${self:", "${opt:", "${sls:", "${file(", "${cf:", "${ssm:", "${env:"].iter().any(|v| text.contains(v)) {
        return false;
    }
    let known = |name: &str| FUNCTIONS.contains(&name) || matches!(name, "Ref" | "Condition");
    let functions = text.match_indices("Fn::").all(|(i, m)| known(identifier(&text[i + m.len()..])));
    functions && short_tags(text).all(known)
}

/// The identifier at the start of `s`.
fn identifier(s: &str) -> &str {
    let end = s.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(s.len());
    &s[..end]
}

/// The names of the short-form tags written in `text` (`Ref` of `!Ref`):
/// a `!` and a letter after a space, `[`, `,` or a `{` that does not open
/// `${!Literal}`.
fn short_tags(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('!').filter_map(move |(i, _)| {
        let before = text[..i].chars().next_back();
        let opens = match before {
            None => true,
            Some(c) if c.is_whitespace() || matches!(c, '[' | ',') => true,
            Some('{') => !text[..i - 1].ends_with('$'),
            Some(_) => false,
        };
        let rest = &text[i + 1..];
        (opens && rest.starts_with(|c: char| c.is_ascii_alphabetic())).then(move || {
            let end =
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))).unwrap_or(rest.len());
            &rest[..end]
        })
    })
}

/// Collects the names a part of the template uses.
#[derive(Debug)]
struct Walk<'a> {
    text: &'a str,
    uses: Vec<Use<'a>>,
}

impl<'a> Walk<'a> {
    /// `node` and everything under it. `conditions`: inside `Conditions`,
    /// where `{"Condition": "X"}` names a condition.
    fn node(&mut self, node: &'a Node, conditions: bool) {
        let Some((function, arg)) = call(self.text, node) else {
            self.children(node, conditions);
            return;
        };
        // A short form's argument is the node itself.
        let short = std::ptr::eq(arg, node);
        match function.as_str() {
            "Ref" => {
                if let Some(name) = arg.as_str() {
                    self.uses.push(Use { span: arg.span, form: "Ref", name, want: Want::Value });
                }
            }
            "Fn::GetAtt" => {
                if let Some(name) = getatt_resource(arg) {
                    let span = match &arg.kind {
                        NodeKind::Seq(items) => items.first().map_or(arg.span, |n| n.span),
                        _ => arg.span,
                    };
                    self.uses.push(Use { span, form: "Fn::GetAtt", name, want: Want::Resource });
                }
            }
            "Fn::Sub" => self.sub(arg),
            "Fn::If" => {
                if let NodeKind::Seq(items) = &arg.kind
                    && let Some(first) = items.first()
                    && let Some(name) = first.as_str()
                {
                    self.uses.push(Use { span: first.span, form: "Fn::If", name, want: Want::Condition });
                }
            }
            "Condition" if short || conditions => {
                if let Some(name) = arg.as_str() {
                    self.uses.push(Use { span: arg.span, form: "Condition", name, want: Want::Condition });
                }
            }
            _ => {}
        }
        if short { self.children(arg, conditions) } else { self.node(arg, conditions) }
    }

    fn children(&mut self, node: &'a Node, conditions: bool) {
        match &node.kind {
            NodeKind::Seq(items) => items.iter().for_each(|item| self.node(item, conditions)),
            NodeKind::Map(entries) => entries.iter().for_each(|e| self.node(&e.value, conditions)),
            _ => {}
        }
    }

    /// `Fn::Sub`: a string, or a string and a map of its own variables.
    fn sub(&mut self, arg: &'a Node) {
        let (string, own): (&'a Node, Vec<&str>) = match &arg.kind {
            NodeKind::Str(_) => (arg, Vec::new()),
            NodeKind::Seq(items) => {
                let [string, map] = items.as_slice() else { return };
                // A computed map may hold any name.
                let Some(entries) = map.as_map().filter(|_| call(self.text, map).is_none()) else { return };
                (string, entries.iter().map(|e| e.key.name.as_str()).collect())
            }
            _ => return,
        };
        // A computed string (`!Join` inside) is not read.
        let Some(s) = string.as_str().filter(|_| std::ptr::eq(string, arg) || tag(self.text, string).is_none()) else {
            return;
        };
        let mut seen: Vec<&str> = Vec::new();
        for variable in sub_variables(s) {
            if own.contains(&variable) || seen.contains(&variable) {
                continue;
            }
            seen.push(variable);
            let (name, want) = match variable.split_once('.') {
                Some((resource, _)) if !own.contains(&resource) => (resource, Want::Resource),
                Some(_) => continue,
                None => (variable, Want::Value),
            };
            let needle = format!("${{{variable}}}");
            let span = self
                .text
                .get(string.span.start..string.span.end)
                .and_then(|t| t.find(&needle))
                .map_or(string.span, |i| Span::new(string.span.start + i + 2, string.span.start + i + 2 + name.len()));
            self.uses.push(Use { span, form: "Fn::Sub", name, want });
        }
    }
}

/// A defined name one or two edits away (letter case aside).
fn closest<'n>(name: &str, candidates: &[&'n str]) -> Option<&'n str> {
    let limit = if name.len() < 6 { 1 } else { 2 };
    let lower = name.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&c.to_ascii_lowercase(), &lower), *c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// The names a template uses where they must be defined, and what it defines.
fn references<'a>(doc: &'a Node, text: &'a str) -> (Names<'a>, Vec<Use<'a>>) {
    let names = Names {
        resources: keys(doc, "Resources"),
        parameters: keys(doc, "Parameters"),
        conditions: keys(doc, "Conditions"),
    };
    let mut walk = Walk { text, uses: Vec::new() };
    let entries = |section: &str| doc.get(section).and_then(|e| e.value.as_map()).unwrap_or_default();
    for resource in entries("Resources") {
        let r = &resource.value;
        if let Some(condition) = r.get("Condition")
            && let Some(name) = condition.value.as_str()
            && tag(text, &condition.value).is_none()
        {
            walk.uses.push(Use { span: condition.value.span, form: "Condition", name, want: Want::Condition });
        }
        if let Some(depends) = r.get("DependsOn") {
            let items: Vec<&Node> = match &depends.value.kind {
                NodeKind::Seq(items) => items.iter().collect(),
                _ => vec![&depends.value],
            };
            for item in items {
                if let Some(name) = item.as_str()
                    && tag(text, item).is_none()
                {
                    walk.uses.push(Use { span: item.span, form: "DependsOn", name, want: Want::Resource });
                }
            }
        }
        if let Some(properties) = r.get("Properties") {
            walk.node(&properties.value, false);
        }
    }
    for output in entries("Outputs") {
        let Some(fields) = output.value.as_map() else { continue };
        for field in fields {
            match (field.key.name.as_str(), field.value.as_str()) {
                ("Condition", Some(name)) if tag(text, &field.value).is_none() => {
                    walk.uses.push(Use { span: field.value.span, form: "Condition", name, want: Want::Condition });
                }
                _ => walk.node(&field.value, false),
            }
        }
    }
    for condition in entries("Conditions") {
        walk.node(&condition.value, true);
    }
    (names, walk.uses)
}

impl Rule for UndefinedReference {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for template in cx.graph.templates {
            let Some(file) = cx.files.get(template.file) else { continue };
            let doc = &template.document;
            if !judged(doc, &file.text) {
                continue;
            }
            let (names, uses) = references(doc, &file.text);
            for u in uses.iter().filter(|u| !names.defines(u.want, u.name)) {
                let (form, name) = (u.form, u.name);
                let mut message = match u.want {
                    Want::Resource if names.parameters.contains(&name) => {
                        format!("`{form}` names `{name}`, which is a parameter, not a resource")
                    }
                    Want::Value => format!(
                        "`{form}` names `{name}`, but the template defines no resource, parameter or pseudo parameter of that name"
                    ),
                    Want::Resource => {
                        format!("`{form}` names `{name}`, but the template defines no resource of that name")
                    }
                    Want::Condition => {
                        format!("`{form}` names `{name}`, but the template defines no condition of that name")
                    }
                };
                message.push_str(": CloudFormation rejects the template");
                if let Some(close) = closest(name, &names.candidates(u.want, name)) {
                    message.push_str(&format!("; did you mean `{close}`?"));
                }
                sink.report(template.file, u.span, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;

    fn missing(text: &str) -> Vec<String> {
        let doc = berth_spec::parse_documents(text).unwrap().swap_remove(0);
        if !judged(&doc, text) {
            return Vec::new();
        }
        let (names, uses) = references(&doc, text);
        uses.iter().filter(|u| !names.defines(u.want, u.name)).map(|u| format!("{} {}", u.form, u.name)).collect()
    }

    const HEAD: &str = "AWSTemplateFormatVersion: \"2010-09-09\"\nParameters:\n  Env:\n    Type: String\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\n";

    #[test]
    fn short_and_long_forms() {
        let text = format!(
            "{HEAD}Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Condition: IsProd
    DependsOn: [Bucket, Queue]
    Properties:
      BucketName: !Sub \"${{AWS::StackName}}-${{Env}}-${{Envv}}-${{!Literal}}\"
      A: !Ref Bukcet
      B: {{\"Ref\": \"AWS::Region\"}}
      C: !GetAtt Topic.Arn
      D: {{\"Fn::GetAtt\": [\"Bucket\", \"Arn\"]}}
      E: !If [IsProdd, !Ref Env, !Ref AWS::NoValue]
      F: !Sub
        - \"${{Domain}}/${{Bucket.Arn}}/${{Missing.Arn}}\"
        - Domain: !Ref Env
      G:
        Fn::If:
          - IsProd
          - x
          - y
      H: !GetAtt [Env, Arn]
Outputs:
  Name:
    Condition: Nope
    Value: !Ref Env
"
        );
        let mut found = missing(&text);
        found.sort();
        let mut want = vec![
            "Condition Nope",
            "DependsOn Queue",
            "Fn::GetAtt Env",
            "Fn::GetAtt Topic",
            "Fn::If IsProdd",
            "Fn::Sub Envv",
            "Fn::Sub Missing",
            "Ref Bukcet",
        ];
        want.sort_unstable();
        assert_eq!(found, want);
    }

    #[test]
    fn user_data_shell_variables() {
        let text = format!(
            "{HEAD}Resources:
  Host:
    Type: AWS::EC2::Instance
    Properties:
      UserData:
        Fn::Base64: !Sub |
          #!/bin/bash
          echo \"${{!HOME}} ${{AWS::Region}}\"
          cd ${{HOME}}
"
        );
        assert_eq!(missing(&text), ["Fn::Sub HOME"]);
    }

    #[test]
    fn long_forms_in_json() {
        let text = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Parameters": {"VpcId": {"Type": "AWS::EC2::VPC::Id"}},
  "Conditions": {"Always": {"Fn::Equals": ["a", "a"]}, "Both": {"Fn::And": [{"Condition": "Always"}, {"Condition": "Sometimes"}]}},
  "Resources": {
    "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"VpcId": {"Ref": "VPCId"}, "GroupDescription": {"Fn::Sub": ["${Name}", {"Name": "web"}]}}}
  }
}"#;
        let mut found = missing(text);
        found.sort();
        assert_eq!(found, ["Condition Sometimes", "Ref VPCId"]);
    }

    #[test]
    fn templates_others_complete_are_not_judged() {
        let sam = format!(
            "{HEAD}Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Role: !GetAtt FnRole.Arn\n"
        );
        assert!(missing(&sam).is_empty());
        let fragment = "Resources:\n  Authorizer:\n    Type: AWS::ApiGateway::Authorizer\n    Properties:\n      RestApiId: !Ref ApiGatewayRestApi\n";
        assert!(missing(fragment).is_empty());
        let included = format!(
            "{HEAD}Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Tags: !Include tags.yaml\n      Name: !Ref Nope\n"
        );
        assert!(missing(&included).is_empty());
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("Bukcet", &["Bucket", "Queue"]), Some("Bucket"));
        assert_eq!(closest("myBucket", &["MyBucket"]), Some("MyBucket"));
        assert_eq!(closest("Db", &["Queue"]), None);
    }
}
