//! Prometheus into the graph: scrape jobs from `prometheus.yml` and
//! ServiceMonitors; alerting and recording rules from rule files and
//! PrometheusRule objects, with the metrics and `job`s their expressions
//! select (read by the `promql-parser` crate).

use berth_diagnostics::{SourceFile, Span};
use berth_spec::{Node, NodeKind};
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};

use super::yaml::{at, key_span, labels, seq, str_at};
use super::{ComposeService, Graph, UnitFile, Workload, command, place};

#[derive(Debug)]
pub struct ScrapeJob<'a> {
    pub file: usize,
    pub name: &'a str,
    pub span: Span,
    /// `static_configs` targets: (`host:port`, span).
    pub targets: Vec<(&'a str, Span)>,
    /// Targets come from service discovery: what they are is not known here.
    pub discovered: bool,
    /// With the blackbox pattern (relabelling that sets `__address__`),
    /// the listed targets: what the exporter probes, not what is scraped.
    pub probes: Vec<(&'a str, Span)>,
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
            // The blackbox pattern: relabelling that sets `__address__`
            // makes the listed targets parameters (`__param_target`) and
            // scrapes the replacement (the exporter) instead.
            let rewrite = seq(at(job, &["relabel_configs"]))
                .iter()
                .find(|r| at(r, &["target_label"]).and_then(Node::as_str) == Some("__address__"));
            let listed = || {
                seq(at(job, &["static_configs"]))
                    .iter()
                    .flat_map(|s| seq(at(s, &["targets"])))
                    .filter_map(|t| Some((t.as_str()?, t.span)))
                    .collect::<Vec<_>>()
            };
            let probes = if rewrite.is_some() { listed() } else { Vec::new() };
            let targets = match rewrite {
                Some(r) => at(r, &["replacement"])
                    .and_then(|n| Some((n.as_str().filter(|t| !t.contains('$'))?, n.span)))
                    .into_iter()
                    .collect(),
                None => listed(),
            };
            Some(ScrapeJob { file, name: name_node.as_str()?, span: name_node.span, targets, discovered, probes })
        })
        .collect()
}

/// Rules of a rule file's `groups` (or a PrometheusRule's `spec.groups`).
pub fn rules<'a>(file: usize, groups: Option<&'a Node>) -> Vec<PromRule<'a>> {
    let mut out = Vec::new();
    // vmalert groups of another query language (`type: vlogs`, `graphite`)
    // are not PromQL; Prometheus itself has no `type:`.
    for group in seq(groups).iter().filter(|g| str_at(g, &["type"]).is_none_or(|t| t == "prometheus")) {
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

/// A static Alertmanager target of a Prometheus configuration
/// (`alerting.alertmanagers[].static_configs[].targets`).
#[derive(Debug)]
pub struct AlertmanagerTarget<'a> {
    pub file: usize,
    /// `host:port`.
    pub target: &'a str,
    pub span: Span,
}

/// Whether a YAML document is a Prometheus server's configuration.
pub fn is_config(doc: &Node) -> bool {
    at(doc, &["scrape_configs"]).is_some() || at(doc, &["rule_files"]).is_some()
}

/// The static Alertmanager targets of a Prometheus configuration. An
/// `alertmanagers` entry that also discovers its targets (`*_sd_configs`)
/// is left out: what it finds is not known here.
pub fn alertmanager_targets<'a>(file: usize, doc: &'a Node) -> Vec<AlertmanagerTarget<'a>> {
    seq(at(doc, &["alerting", "alertmanagers"]))
        .iter()
        .filter(|am| !am.as_map().is_some_and(|entries| entries.iter().any(|e| e.key.name.ends_with("_sd_configs"))))
        .flat_map(|am| seq(at(am, &["static_configs"])))
        .flat_map(|s| seq(at(s, &["targets"])))
        .filter_map(|t| Some(AlertmanagerTarget { file, target: t.as_str()?, span: t.span }))
        .collect()
}

/// Where a Prometheus server of a deployment unit runs.
#[derive(Debug, Clone, Copy)]
pub enum Server<'g, 'a> {
    /// A compose service of a `prometheus` image.
    Compose(&'g ComposeService<'a>),
    /// A systemd service whose `ExecStart=` runs `prometheus`.
    Systemd(&'g UnitFile),
    /// A Kubernetes workload with a `prometheus` container.
    Kubernetes(&'g Workload<'a>),
}

impl Server<'_, '_> {
    /// The port it serves on: `--web.listen-address`, else 9090.
    pub fn port(&self, graph: &Graph<'_>) -> u16 {
        let words: Vec<String> = match self {
            Self::Compose(s) => s.command.as_ref().map(|(c, _)| command::words(c)).unwrap_or_default(),
            Self::Systemd(u) => exec_start(graph, graph.unit(u.file), &u.unit).unwrap_or_default(),
            Self::Kubernetes(w) => w
                .containers
                .iter()
                .filter(|c| !c.init && c.image.is_some_and(|i| image_is(i, "prometheus")))
                .flat_map(|c| c.command.iter().cloned())
                .collect(),
        };
        listen_port(&words).unwrap_or(9090)
    }

    /// Whether `file` is (or may be) this server's configuration. A compose
    /// Prometheus reads the file its `--config.file` names (by default the
    /// image's `/etc/prometheus/prometheus.yml`) through a bind mount of
    /// the tree; a configuration it does not mount is another's. One run by
    /// systemd may read any of its unit; so may one in Kubernetes, unless
    /// every ConfigMap its pod mounts is written out in the unit with its
    /// configuration inline (then a file beside it is not what it loads:
    /// a generated ConfigMap is no object of the tree).
    pub fn uses_config(&self, graph: &Graph<'_>, files: &[SourceFile], file: usize) -> bool {
        let s = match self {
            Self::Compose(s) => s,
            Self::Systemd(_) => return true,
            Self::Kubernetes(w) => return !inline_config(graph, w),
        };
        let declarations: Vec<&ComposeService<'_>> = graph.compose_service(&s.project, s.name).collect();
        let words = declarations
            .iter()
            .rev()
            .find_map(|d| d.command.as_ref())
            .map(|(c, _)| command::words(c))
            .unwrap_or_default();
        let bitnami = declarations.iter().any(|d| d.image.as_deref().is_some_and(|i| i.contains("bitnami/")));
        let default =
            if bitnami { "/opt/bitnami/prometheus/conf/prometheus.yml" } else { "/etc/prometheus/prometheus.yml" };
        let named = words.iter().enumerate().find_map(|(i, w)| {
            let flag = w.trim_start_matches('-');
            match flag.split_once('=') {
                Some(("config.file", path)) => Some(path.to_owned()),
                None if flag == "config.file" && w.starts_with('-') => words.get(i + 1).cloned(),
                _ => None,
            }
        });
        let wanted = named.unwrap_or_else(|| default.to_owned());
        let Some(name) = files.get(file).map(|f| super::compose::normalize(&f.name)) else { return false };
        declarations.iter().flat_map(|d| super::compose::bind_mounts(d)).any(|(source, target)| {
            if wanted == target {
                return name == source;
            }
            wanted.strip_prefix(&format!("{target}/")).is_some_and(|rest| {
                let path = if source.is_empty() { rest.to_owned() } else { format!("{source}/{rest}") };
                name == path
            })
        })
    }
}

/// Whether every ConfigMap the pod of `w` mounts is an object of its unit
/// with its data written inline (and there is one).
fn inline_config(graph: &Graph<'_>, w: &Workload<'_>) -> bool {
    let own = &graph.objects[w.object];
    let unit = graph.unit(own.file);
    let names: Vec<&str> =
        seq(at(w.pod, &["volumes"])).iter().filter_map(|v| str_at(v, &["configMap", "name"])).collect();
    !names.is_empty()
        && names.iter().all(|name| {
            graph.objects.iter().any(|o| {
                o.kind == "ConfigMap"
                    && o.name == *name
                    && o.namespace == own.namespace
                    && graph.unit(o.file) == unit
                    && at(o.node, &["data"]).and_then(Node::as_map).is_some_and(|d| !d.is_empty())
            })
        })
}

/// Whether `image` is the repository `name` of any registry, at any tag
/// or digest: `prom/prometheus:v2.53.0` and `quay.io/prometheus/prometheus`
/// are `prometheus`; `prom/node-exporter` is not.
pub fn image_is(image: &str, name: &str) -> bool {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split(':').next() == Some(name)
}

/// The port `--web.listen-address` (Prometheus, Alertmanager and the
/// exporters; `-web.listen-address` in older ones) sets.
pub fn listen_port(words: &[String]) -> Option<u16> {
    let expanded = command::expanded(words);
    let mut iter = expanded.iter();
    while let Some(word) = iter.next() {
        if !word.starts_with('-') {
            continue;
        }
        let flag = word.trim_start_matches('-');
        let value = match flag.split_once('=') {
            Some(("web.listen-address", v)) => v.to_owned(),
            None if flag == "web.listen-address" => iter.next()?.clone(),
            _ => continue,
        };
        return value.rsplit(':').next()?.parse().ok();
    }
    None
}

/// The port a program listens on when its command line does not say:
/// Prometheus, Alertmanager, the Pushgateway and the common exporters.
pub fn default_port(program: &str) -> Option<u16> {
    Some(match program {
        "prometheus" => 9090,
        "pushgateway" | "prometheus-pushgateway" => 9091,
        "alertmanager" | "prometheus-alertmanager" => 9093,
        "node_exporter" | "prometheus-node-exporter" => 9100,
        "haproxy_exporter" | "prometheus-haproxy-exporter" => 9101,
        "statsd_exporter" | "prometheus-statsd-exporter" => 9102,
        "mysqld_exporter" | "prometheus-mysqld-exporter" => 9104,
        "consul_exporter" => 9107,
        "graphite_exporter" => 9108,
        "nginx-prometheus-exporter" | "prometheus-nginx-exporter" => 9113,
        "elasticsearch_exporter" => 9114,
        "blackbox_exporter" | "prometheus-blackbox-exporter" => 9115,
        "snmp_exporter" | "prometheus-snmp-exporter" => 9116,
        "redis_exporter" | "prometheus-redis-exporter" => 9121,
        "memcached_exporter" => 9150,
        "postgres_exporter" | "prometheus-postgres-exporter" => 9187,
        "mongodb_exporter" => 9216,
        "process-exporter" | "prometheus-process-exporter" => 9256,
        "grafana-server" => 3000,
        "loki" => 3100,
        "promtail" => 9080,
        "redis-server" => 6379,
        _ => return None,
    })
}

/// The program an `ExecStart=` line runs, without its directory and
/// systemd's prefixes (`-`, `@`, `+`, `!`, `:`).
fn program(words: &[String]) -> Option<&str> {
    let first = words.first()?.trim_start_matches(['-', '@', '+', '!', ':']);
    first.rsplit('/').next()
}

/// The last `ExecStart=` of the systemd service `name` in `unit`, over its
/// file and drop-ins, split into words.
fn exec_start(graph: &Graph<'_>, unit: usize, name: &str) -> Option<Vec<String>> {
    graph
        .units
        .iter()
        .filter(|u| u.unit == name && graph.unit(u.file) == unit)
        .flat_map(|u| u.get("Service", "ExecStart"))
        .filter(|s| !s.value.is_empty())
        .last()
        .map(|s| command::words(&s.value))
}

/// The Prometheus servers deployed in `unit`: compose services, systemd
/// services and Kubernetes workloads (one entry each).
pub fn servers<'g, 'a>(graph: &'g Graph<'a>, unit: usize) -> Vec<Server<'g, 'a>> {
    let mut out: Vec<Server<'g, 'a>> = Vec::new();
    for s in &graph.compose {
        let prometheus = graph
            .compose_service(&s.project, s.name)
            .any(|d| d.image.as_deref().is_some_and(|i| image_is(i, "prometheus")));
        let seen = out.iter().any(|o| matches!(o, Server::Compose(c) if c.project == s.project && c.name == s.name));
        if graph.unit(s.file) == unit && prometheus && !seen {
            out.push(Server::Compose(s));
        }
    }
    for u in graph.units {
        let seen = out.iter().any(|o| matches!(o, Server::Systemd(x) if x.unit == u.unit));
        if graph.unit(u.file) == unit
            && u.unit.ends_with(".service")
            && !seen
            && exec_start(graph, unit, &u.unit).is_some_and(|w| program(&w) == Some("prometheus"))
        {
            out.push(Server::Systemd(u));
        }
    }
    for w in &graph.workloads {
        if graph.unit(graph.objects[w.object].file) == unit
            && w.containers.iter().any(|c| !c.init && c.image.is_some_and(|i| image_is(i, "prometheus")))
        {
            out.push(Server::Kubernetes(w));
        }
    }
    out
}

/// Ports a systemd service of `unit` listens on, when that is known: its
/// `--web.listen-address` or bind flags, its side listeners, else its
/// program's default port; none for a `Type=oneshot` job. `None` when its
/// command line does not say (or expands variables) and the program is
/// not one whose default is known.
fn service_ports(graph: &Graph<'_>, unit: usize, name: &str) -> Option<Vec<u16>> {
    let oneshot = graph
        .units
        .iter()
        .filter(|u| u.unit == name && graph.unit(u.file) == unit)
        .flat_map(|u| u.get("Service", "Type"))
        .last()
        .is_some_and(|t| t.value == "oneshot");
    if oneshot {
        return Some(Vec::new());
    }
    let words = exec_start(graph, unit, name)?;
    let facts = command::facts(&words);
    let expands = words.iter().any(|w| w.contains('$'));
    let main = listen_port(&words)
        .or(facts.port)
        .or_else(|| if expands { None } else { program(&words).and_then(default_port) })?;
    let mut ports: Vec<u16> = facts.side.iter().map(|(_, p)| *p).collect();
    ports.push(main);
    Some(ports)
}

/// Why nothing answers on `localhost:port` for the Prometheus that reads
/// the configuration file `config` (see [`Server::uses_config`]), when
/// that is certain:
/// - Prometheus runs in a compose container (not `network_mode: host`,
///   and no service shares its network namespace): `localhost` is the
///   container itself, where only Prometheus listens.
/// - Prometheus runs as a systemd service, the unit deploys something
///   else too, every other service's port is known (flags or the
///   program's default) and none, nor a compose service's published port,
///   is `port`; no script of the unit mentions an exporter or the port
///   (it may install one).
///
/// `None` whenever no Prometheus of the unit reads it or several do, the port
/// is Prometheus's own, Prometheus runs in Kubernetes (a sidecar may
/// listen), or something may listen there.
pub fn nothing_on_loopback(graph: &Graph<'_>, files: &[SourceFile], config: usize, port: u16) -> Option<String> {
    let unit = graph.unit(config);
    let mut servers = servers(graph, unit);
    servers.retain(|s| s.uses_config(graph, files, config));
    let [server] = servers.as_slice() else { return None };
    if server.port(graph) == port {
        return None;
    }
    match *server {
        Server::Compose(s) => {
            let declarations: Vec<&ComposeService<'_>> = graph.compose_service(&s.project, s.name).collect();
            if declarations.iter().any(|d| str_at(d.node, &["network_mode"]).is_some_and(|m| m != "bridge")) {
                return None;
            }
            let container = declarations.iter().find_map(|d| str_at(d.node, &["container_name"]));
            let shares = graph.compose.iter().filter(|o| o.project == s.project).any(|o| {
                str_at(o.node, &["network_mode"]).is_some_and(|m| {
                    m.strip_prefix("service:") == Some(s.name)
                        || m.strip_prefix("container:").is_some_and(|c| Some(c) == container)
                })
            });
            (!shares).then(|| {
                format!(
                    "Prometheus runs in compose service `{}` ({}), where `localhost` is its own container and nothing \
                     listens on {port}",
                    s.name,
                    place(files, s.file, s.span)
                )
            })
        }
        Server::Systemd(prometheus) => {
            let mut others = 0;
            for s in graph.compose.iter().filter(|s| graph.unit(s.file) == unit) {
                others += 1;
                if str_at(s.node, &["network_mode"]) == Some("host") {
                    return None;
                }
                let publishes = |published: &str| {
                    let (low, high) = published.split_once('-').unwrap_or((published, published));
                    matches!((low.parse::<u16>(), high.parse::<u16>()), (Ok(l), Ok(h)) if (l..=h).contains(&port))
                };
                if s.ports.iter().any(|p| p.published.as_deref().is_some_and(&publishes)) {
                    return None;
                }
            }
            let mut seen: Vec<&str> = vec![prometheus.unit.as_str()];
            for u in graph.units.iter().filter(|u| graph.unit(u.file) == unit) {
                if seen.contains(&u.unit.as_str()) {
                    continue;
                }
                seen.push(u.unit.as_str());
                if u.unit.ends_with(".socket") {
                    others += 1;
                    let listens = graph
                        .units
                        .iter()
                        .filter(|f| f.unit == u.unit && graph.unit(f.file) == unit)
                        .flat_map(|f| f.get("Socket", "ListenStream"))
                        .any(|l| l.value.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) == Some(port));
                    if listens {
                        return None;
                    }
                } else if u.unit.ends_with(".service") {
                    others += 1;
                    if service_ports(graph, unit, &u.unit)?.contains(&port) {
                        return None;
                    }
                }
            }
            let wanted = port.to_string();
            let mentioned = graph.scripts.iter().filter(|s| graph.unit(s.file) == unit).any(|s| {
                s.commands.iter().flat_map(|c| &c.words).any(|w| {
                    w.text.contains("exporter")
                        || w.text == wanted
                        || w.text.contains(&format!(":{wanted}"))
                        || w.text.contains(&format!("={wanted}"))
                })
            });
            if others == 0 || mentioned {
                return None;
            }
            let exec = prometheus.get("Service", "ExecStart").last().map_or(Span::new(0, 0), |e| e.key_span);
            Some(format!(
                "Prometheus runs on the host as `{}` ({}), and nothing deployed with it listens on {port} there",
                prometheus.unit,
                place(files, prometheus.file, exec)
            ))
        }
        Server::Kubernetes(_) => None,
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

    #[test]
    fn images_ports_and_alertmanagers() {
        assert!(image_is("prom/prometheus:v2.53.0", "prometheus"));
        assert!(image_is("quay.io/prometheus/prometheus@sha256:abc", "prometheus"));
        assert!(!image_is("prom/node-exporter:v1.8.1", "prometheus"));
        assert!(!image_is("prometheus-pushgateway", "prometheus"));
        let w = |s: &str| command::words(s);
        assert_eq!(listen_port(&w("/bin/node_exporter --web.listen-address=:9200")), Some(9200));
        assert_eq!(listen_port(&w("redis_exporter -web.listen-address 0.0.0.0:9122")), Some(9122));
        assert_eq!(listen_port(&w("prometheus --config.file=/etc/prometheus/prometheus.yml")), None);
        assert_eq!(
            program(&w("-/usr/bin/prometheus-node-exporter --collector.systemd")),
            Some("prometheus-node-exporter")
        );
        let doc = berth_spec::parse_documents(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"alertmanager:9093\"]\n    - dns_sd_configs:\n        - names: [am.example.com]\n      static_configs:\n        - targets: [\"am:9093\"]\nscrape_configs: []\n",
        )
        .unwrap();
        assert!(is_config(&doc[0]));
        let targets: Vec<&str> = alertmanager_targets(0, &doc[0]).iter().map(|t| t.target).collect();
        assert_eq!(targets, ["alertmanager:9093"]);
    }
}
