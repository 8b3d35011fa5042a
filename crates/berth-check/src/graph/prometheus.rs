//! Prometheus into the graph: scrape jobs from `prometheus.yml` and
//! ServiceMonitors; alerting and recording rules from rule files and
//! PrometheusRule objects, with the metrics and `job`s their expressions
//! select (read by the `promql-parser` crate).

use berth_diagnostics::Span;
use berth_spec::{Node, NodeKind};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};

use super::yaml::{at, key_span, labels, seq, str_at};

#[derive(Debug)]
pub struct ScrapeJob<'a> {
    pub file: usize,
    pub name: &'a str,
    pub span: Span,
    /// `static_configs` targets: (`host:port`, span).
    pub targets: Vec<(&'a str, Span)>,
    /// Targets come from service discovery: what they are is not known here.
    pub discovered: bool,
}

#[derive(Debug)]
pub struct ServiceMonitor<'a> {
    /// Index into [`super::Graph::objects`].
    pub object: usize,
    pub selector: Vec<(String, String)>,
    pub selector_span: Span,
    /// `endpoints[].port` (Service port names) with their spans.
    pub ports: Vec<(&'a str, Span)>,
    /// `jobLabel`: the job is named by this label of each scraped Service.
    pub job_label: Option<&'a str>,
    /// `namespaceSelector.matchNames`; empty: the monitor's own namespace.
    pub namespaces: Vec<&'a str>,
    /// `namespaceSelector.any: true`.
    pub any_namespace: bool,
}

/// What an expression selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub metric: Option<String>,
    /// The value of a `job="..."` matcher.
    pub job: Option<String>,
}

#[derive(Debug)]
pub struct PromRule<'a> {
    pub file: usize,
    /// `alert` for alerting rules, else `record`.
    pub alert: bool,
    pub name: &'a str,
    pub span: Span,
    pub expr: &'a str,
    pub expr_span: Span,
    pub has_for: bool,
    pub annotations: Vec<(String, String)>,
    /// `Err` with the parser's message when the expression does not parse.
    pub parsed: Result<ExprFacts, String>,
}

#[derive(Debug, Default)]
pub struct ExprFacts {
    pub selectors: Vec<Selector>,
    /// Somewhere the expression multiplies by 100.
    pub times_100: bool,
}

pub fn facts(expr: &str) -> Result<ExprFacts, String> {
    let tree = parser::parse(expr)?;
    let mut out = ExprFacts::default();
    collect(&tree, &mut out);
    Ok(out)
}

fn collect(expr: &Expr, out: &mut ExprFacts) {
    match expr {
        Expr::Aggregate(a) => {
            collect(&a.expr, out);
            if let Some(p) = &a.param {
                collect(p, out);
            }
        }
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Binary(b) => {
            let hundred = |e: &Expr| matches!(e, Expr::NumberLiteral(n) if (n.val - 100.0).abs() < f64::EPSILON);
            if b.op.to_string() == "*" && (hundred(&b.lhs) || hundred(&b.rhs)) {
                out.times_100 = true;
            }
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::VectorSelector(v) => out.selectors.push(selector(v)),
        Expr::MatrixSelector(m) => out.selectors.push(selector(&m.vs)),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn selector(v: &parser::VectorSelector) -> Selector {
    let equal = |name: &str| {
        v.matchers.matchers.iter().find(|m| m.name == name && matches!(m.op, MatchOp::Equal)).map(|m| m.value.clone())
    };
    Selector { metric: v.name.clone().or_else(|| equal("__name__")), job: equal("job") }
}

/// Scrape jobs of a Prometheus configuration file.
pub fn scrape_jobs<'a>(file: usize, doc: &'a Node) -> Vec<ScrapeJob<'a>> {
    seq(at(doc, &["scrape_configs"]))
        .iter()
        .filter_map(|job| {
            let name_node = at(job, &["job_name"])?;
            let discovered =
                job.as_map().is_some_and(|entries| entries.iter().any(|e| e.key.name.ends_with("_sd_configs")));
            let targets = seq(at(job, &["static_configs"]))
                .iter()
                .flat_map(|s| seq(at(s, &["targets"])))
                .filter_map(|t| Some((t.as_str()?, t.span)))
                .collect();
            Some(ScrapeJob { file, name: name_node.as_str()?, span: name_node.span, targets, discovered })
        })
        .collect()
}

/// Rules of a rule file's `groups` (or a PrometheusRule's `spec.groups`).
pub fn rules<'a>(file: usize, groups: Option<&'a Node>) -> Vec<PromRule<'a>> {
    let mut out = Vec::new();
    for group in seq(groups) {
        for rule in seq(at(group, &["rules"])) {
            let (alert, name_node) = match (at(rule, &["alert"]), at(rule, &["record"])) {
                (Some(n), _) => (true, n),
                (None, Some(n)) => (false, n),
                _ => continue,
            };
            let Some(expr_node) = at(rule, &["expr"]) else { continue };
            let Some(expr) = expr_text(expr_node) else { continue };
            out.push(PromRule {
                file,
                alert,
                name: name_node.as_str().unwrap_or("(unnamed)"),
                span: name_node.span,
                expr,
                expr_span: expr_node.span,
                // `for: 0m` waits for nothing: the same as no `for:`.
                has_for: at(rule, &["for"]).is_some_and(|f| {
                    f.as_str()
                        .is_none_or(|f| berth_spec::model::units::Duration::parse(f).is_ok_and(|d| !d.0.is_zero()))
                }),
                annotations: labels(at(rule, &["annotations"])),
                parsed: facts(expr),
            });
        }
    }
    out
}

fn expr_text(node: &Node) -> Option<&str> {
    match &node.kind {
        NodeKind::Str(s) => Some(s),
        _ => None,
    }
}

pub fn service_monitor<'a>(object: usize, doc: &'a Node) -> ServiceMonitor<'a> {
    ServiceMonitor {
        object,
        selector: labels(at(doc, &["spec", "selector", "matchLabels"])),
        selector_span: at(doc, &["spec"]).map_or(doc.span, |s| key_span(s, "selector")),
        ports: seq(at(doc, &["spec", "endpoints"]))
            .iter()
            .filter_map(|e| Some((str_at(e, &["port"])?, at(e, &["port"])?.span)))
            .collect(),
        job_label: str_at(doc, &["spec", "jobLabel"]),
        namespaces: seq(at(doc, &["spec", "namespaceSelector", "matchNames"]))
            .iter()
            .filter_map(|n| n.as_str())
            .collect(),
        any_namespace: at(doc, &["spec", "namespaceSelector", "any"])
            .is_some_and(|n| matches!(n.kind, NodeKind::Bool(true))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_jobs_and_scaling() {
        let f = facts(
            "100 * sum by (pod) (rate(container_cpu_usage_seconds_total{job=\"kubelet\"}[5m])) / on() group_left sum(kube_node_info)",
        )
        .unwrap();
        assert!(f.times_100);
        assert_eq!(
            f.selectors,
            [
                Selector { metric: Some("container_cpu_usage_seconds_total".into()), job: Some("kubelet".into()) },
                Selector { metric: Some("kube_node_info".into()), job: None },
            ]
        );
        assert!(!facts("up == 0").unwrap().times_100);
        assert!(facts("sum(rate(x[5m])").is_err());
    }
}
