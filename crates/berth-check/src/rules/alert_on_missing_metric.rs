use crate::graph::yaml::{at, bool_at, labels, seq, str_at};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// An alerting or recording rule on a metric that nothing scrapes
    /// evaluates to an empty result forever: the alert can never fire, and
    /// nobody notices until the outage it was written for. Found when a
    /// selector's `job="..."` names no scrape job (or ServiceMonitor'd
    /// Service), or a metric belongs to a well-known exporter
    /// (`pg_`, `redis_`, `node_`, `nginx_`, `mysql_`, `probe_`,
    /// `kube_`) that no scrape job targets. Where the configuration lets
    /// series carry another `job` (relabelling to `job`, a target group's
    /// `job` label, `honor_labels: true` on a Pushgateway or federation
    /// job), job names are not judged. A Prometheus with the remote-write
    /// receiver also holds what agents push: Grafana Alloy's `job_name`s
    /// count as jobs, exporter metrics are not judged, and without an
    /// agent configuration in sight nothing is. A rule file no `rule_files`
    /// names (a test fixture) is evaluated by nothing and not judged. The
    /// Operator's `Probe` and `PodMonitor` jobs count under the names it
    /// gives them (`probe/<namespace>/<name>`). A tree that installs a
    /// chart from its repository (an Argo CD `Application`, a Flux
    /// `HelmRelease`) is not judged, the chart's jobs being out of sight,
    /// unless the chart is kube-prometheus-stack, whose default jobs
    /// (`kubelet`, `kube-state-metrics`, ...) and release-named ones count.
    AlertOnMissingMetric {
        code: "X009",
        name: "alert-on-missing-metric",
        severity: Error,
        fix: "scrape the exporter or job the rule expects, or correct the metric name or `job` label",
    }
}

/// The charts the tree installs from a chart repository, with their
/// release names: an Argo CD `Application` whose source
/// is a `chart`, or a Flux `HelmRelease`.
fn charts_from_elsewhere<'a>(graph: &crate::graph::Graph<'a>) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    for o in &graph.objects {
        match o.kind {
            "HelmRelease" => out.push((str_at(o.node, &["spec", "chart", "spec", "chart"]).unwrap_or(""), o.name)),
            // A source with a `path` is a chart of a Git repository (this
            // one, often), read with the rest of the tree.
            "Application" if o.api_version.starts_with("argoproj.io/") => {
                let sources = at(o.node, &["spec", "source"]).into_iter().chain(seq(at(o.node, &["spec", "sources"])));
                for source in sources {
                    if let Some(chart) = str_at(source, &["chart"]) {
                        let release = str_at(source, &["helm", "releaseName"]).unwrap_or(o.name);
                        out.push((chart, release));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The scrape jobs kube-prometheus-stack makes with its default values,
/// besides those named after its release (`<release>-kube-prom-operator`).
const KUBE_PROMETHEUS_STACK: [&str; 10] = [
    "kubelet",
    "kube-state-metrics",
    "node-exporter",
    "apiserver",
    "coredns",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "kube-etcd",
    "prometheus-node-exporter",
];

/// Metric prefixes of well-known exporters, and words in a job name or
/// target that show it is scraped.
const EXPORTERS: [(&str, &str, &[&str]); 7] = [
    ("pg_", "postgres_exporter", &["postgres", "pg", ":9187"]),
    ("redis_", "redis_exporter", &["redis", ":9121"]),
    ("node_", "node_exporter", &["node", ":9100"]),
    ("nginx_", "nginx-prometheus-exporter", &["nginx", ":9113"]),
    ("mysql_", "mysqld_exporter", &["mysql", ":9104"]),
    ("probe_", "blackbox_exporter", &["blackbox", "probe", ":9115"]),
    ("kube_", "kube-state-metrics", &["kube-state-metrics", "kube_state", "ksm"]),
];

impl Rule for AlertOnMissingMetric {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        if graph.scrape_jobs.is_empty() && graph.service_monitors.is_empty() {
            // Nothing here says what is scraped.
            return;
        }
        // A Prometheus that receives remote writes holds what agents
        // scraped: their jobs count (Grafana Alloy's `job_name`), and their
        // built-in exporters (node, blackbox) make metric names unknowable.
        // With no agent configuration in sight, nothing can be judged.
        let remote = receives_remote_writes(graph);
        let agent_jobs = agent_jobs(cx);
        if remote && agent_jobs.is_empty() {
            return;
        }
        // A chart installed from its repository (an Argo CD Application, a
        // Flux HelmRelease; anywhere in the tree, since an Application
        // often lives in a folder of its own) brings scrape jobs the tree
        // does not show: job names are unknown, unless the chart is
        // kube-prometheus-stack, whose jobs are known.
        let charts = charts_from_elsewhere(graph);
        if charts.iter().any(|(chart, _)| *chart != "kube-prometheus-stack") {
            return;
        }
        let chart_job = |job: &str| {
            !charts.is_empty()
                && (KUBE_PROMETHEUS_STACK.contains(&job)
                    || charts.iter().any(|(_, release)| job.starts_with(&format!("{release}-"))))
        };
        let loaded = loaded_rule_files(cx);
        let mut jobs: Vec<String> = graph.scrape_jobs.iter().map(|j| j.name.to_owned()).collect();
        // The Operator's own job names for a Probe (`probe/<namespace>/<name>`,
        // or its `jobName`) and a PodMonitor (`<namespace>/<name>`).
        for o in &graph.objects {
            let namespace = o.namespace.unwrap_or("default");
            match o.kind {
                "Probe" => jobs.push(
                    str_at(o.node, &["spec", "jobName"])
                        .map_or_else(|| format!("probe/{namespace}/{}", o.name), str::to_owned),
                ),
                "PodMonitor" => jobs.push(format!("{namespace}/{}", o.name)),
                _ => {}
            }
        }

        if !graph.service_monitors.is_empty() {
            // The Operator names a monitor's job after the Service it scrapes
            // (or the monitor, with `jobLabel` unset and no Service found).
            jobs.extend(graph.service_monitors.iter().map(|m| graph.objects[m.object].name.to_owned()));
            jobs.extend(graph.services.iter().map(|s| graph.objects[s.object].name.to_owned()));
            // With `jobLabel`, a Service's label names the job; when the
            // Services a monitor scrapes are not in the tree (the cluster's
            // own), the job names are unknown and nothing can be judged.
            for m in graph.service_monitors.iter().filter(|m| m.job_label.is_some()) {
                let key = m.job_label.unwrap_or_default();
                let selected: Vec<&str> = graph
                    .services
                    .iter()
                    .map(|s| &graph.objects[s.object])
                    .filter(|o| {
                        let service_labels = labels(at(o.node, &["metadata", "labels"]));
                        m.selector.iter().all(|(k, v)| service_labels.iter().any(|(lk, lv)| lk == k && lv == v))
                    })
                    .filter_map(|o| str_at(o.node, &["metadata", "labels", key]))
                    .collect();
                if selected.is_empty() {
                    return;
                }
                jobs.extend(selected.into_iter().map(str::to_owned));
            }
        }
        if remote {
            jobs.extend(agent_jobs);
        }
        let relabelled = graph.documents.iter().any(|(_, d)| relabels_job(d));
        let discovered = remote || graph.scrape_jobs.iter().any(|j| j.discovered) || !graph.service_monitors.is_empty();
        let haystack: Vec<String> = graph
            .scrape_jobs
            .iter()
            .flat_map(|j| {
                std::iter::once(j.name.to_ascii_lowercase())
                    .chain(j.targets.iter().map(|(t, _)| t.to_ascii_lowercase()))
            })
            .chain(graph.service_monitors.iter().map(|m| graph.objects[m.object].name.to_ascii_lowercase()))
            .collect();
        // Recording rules make their own metrics.
        let recorded: Vec<&str> = graph.prom_rules.iter().filter(|r| !r.alert).map(|r| r.name).collect();
        for rule in &graph.prom_rules {
            let Ok(facts) = &rule.parsed else { continue };
            if !loaded(rule.file) {
                continue;
            }
            for selector in &facts.selectors {
                if let Some(job) = &selector.job
                    && !relabelled
                    && !jobs.iter().any(|j| j == job)
                    && !chart_job(job)
                {
                    sink.report(
                        rule.file,
                        rule.expr_span,
                        format!(
                            "`{}` selects `job=\"{job}\"`, but no scrape job is named `{job}` (jobs: {})",
                            rule.name,
                            jobs.join(", ")
                        ),
                    );
                    break;
                }
                let Some(metric) = &selector.metric else { continue };
                if discovered || recorded.contains(&metric.as_str()) {
                    continue;
                }
                let Some((_, exporter, words)) = EXPORTERS.iter().find(|(prefix, _, _)| metric.starts_with(prefix))
                else {
                    continue;
                };
                if !haystack.iter().any(|h| words.iter().any(|w| h.contains(w))) {
                    sink.report(
                        rule.file,
                        rule.expr_span,
                        format!("`{}` uses `{metric}`, exported by {exporter}, which no scrape job targets", rule.name),
                    );
                    break;
                }
            }
        }
    }
}

/// Whether a Prometheus in the tree is started with its remote-write
/// receiver (`--web.enable-remote-write-receiver`, or the older
/// `--enable-feature=remote-write-receiver`).
fn receives_remote_writes(graph: &crate::graph::Graph<'_>) -> bool {
    let flag = |w: &str| w.contains("enable-remote-write-receiver") || w.contains("remote-write-receiver");
    graph.compose.iter().any(|s| s.command.as_ref().is_some_and(|(c, _)| flag(c)))
        || graph.workloads.iter().flat_map(|w| &w.containers).any(|c| c.command.iter().any(|w| flag(w)))
}

/// The `job_name`s of Grafana Alloy's scrape components (`*.alloy`),
/// comments left out.
fn agent_jobs(cx: &Context<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for f in cx.files.iter().filter(|f| f.name.ends_with(".alloy")) {
        for line in f.text.lines().map(str::trim).filter(|l| !l.starts_with("//") && !l.starts_with('#')) {
            let Some(rest) = line.strip_prefix("job_name") else { continue };
            let Some(value) = rest.trim_start().strip_prefix('=') else { continue };
            if let Some(name) = value.trim().strip_prefix('"').and_then(|v| v.split('"').next()) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// Whether Prometheus loads a rule file: when configurations in the tree
/// name `rule_files`, a file none of them names (a test fixture, an
/// example) is evaluated by nothing. Patterns with a directory relative to
/// the configuration match the whole path; container paths
/// (`/etc/prometheus/*.rules`) only the file's name. A PrometheusRule
/// resource is loaded by the Operator.
fn loaded_rule_files<'c>(cx: &'c Context<'_>) -> impl Fn(usize) -> bool + 'c {
    let mut patterns: Vec<globset::GlobMatcher> = Vec::new();
    let mut any = false;
    for (file, doc) in &cx.graph.documents {
        let Some(entries) = at(doc, &["rule_files"]) else { continue };
        any = true;
        let dir = cx.files[*file].name.rsplit_once('/').map_or("", |(d, _)| d);
        for entry in seq(Some(entries)).iter().filter_map(|e| e.as_str()) {
            let pattern = if entry.starts_with('/') || !entry.contains('/') {
                entry.rsplit('/').next().unwrap_or(entry).to_owned()
            } else {
                crate::graph::units::normalize(&format!("{dir}/{entry}")).unwrap_or_default()
            };
            if let Ok(glob) = globset::Glob::new(&pattern) {
                patterns.push(glob.compile_matcher());
            }
        }
    }
    move |file: usize| {
        let name = &cx.files[file].name;
        let resource = cx.graph.objects.iter().any(|o| o.file == file && o.kind == "PrometheusRule");
        if !any || resource {
            return true;
        }
        let base = name.rsplit('/').next().unwrap_or(name);
        let path = crate::graph::units::normalize(name).unwrap_or_default();
        patterns.iter().any(|p| p.is_match(base) || p.is_match(&path))
    }
}

/// Whether a Prometheus configuration gives series a `job` label other
/// than a job's name: relabelling to `job`, a `job` label on a target
/// group, or `honor_labels: true`, which keeps the label the scraped
/// endpoint reports (a Pushgateway's pushers, a federated Prometheus).
fn relabels_job(doc: &berth_spec::Node) -> bool {
    seq(at(doc, &["scrape_configs"])).iter().any(|job| {
        ["relabel_configs", "metric_relabel_configs"]
            .iter()
            .any(|k| seq(at(job, &[k])).iter().any(|r| str_at(r, &["target_label"]) == Some("job")))
            || bool_at(job, &["honor_labels"]) == Some(true)
            || seq(at(job, &["static_configs"])).iter().any(|g| at(g, &["labels", "job"]).is_some())
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::messages_of;

    const RULES: &str = "groups:\n  - name: tidb\n    rules:\n      - alert: TiDBDown\n        expr: up{job=\"tidb\"} == 0\n        for: 1m\n";

    /// TiDB pushes its metrics to a Pushgateway as job `tidb`; the only
    /// scrape job reads the gateway and keeps the pushers' labels.
    #[test]
    fn a_job_label_kept_from_the_target_is_not_a_job_name() {
        let config = |extra: &str| {
            format!(
                "rule_files: [rules.yml]\nscrape_configs:\n  - job_name: cluster\n{extra}    static_configs:\n      - targets: [\"pushgateway:9091\"]\n"
            )
        };
        let x009 = |extra: &str| messages_of("X009", &[("prometheus.yml", &config(extra)), ("rules.yml", RULES)]);
        assert_eq!(x009("").len(), 1, "job `tidb` is scraped by no job");
        assert!(x009("    honor_labels: true\n").is_empty());
        assert_eq!(x009("    honor_labels: false\n").len(), 1);
        let labelled = "rule_files: [rules.yml]\nscrape_configs:\n  - job_name: cluster\n    static_configs:\n      - targets: [\"tidb:10080\"]\n        labels: { job: tidb }\n";
        assert!(messages_of("X009", &[("prometheus.yml", labelled), ("rules.yml", RULES)]).is_empty());
    }

    /// Alloy agents push into a Prometheus with the remote-write receiver:
    /// its series carry jobs no scrape job names.
    #[test]
    fn a_prometheus_receiving_remote_writes_has_jobs_nothing_here_names() {
        let config = "rule_files: [rules.yml]\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: [\"localhost:9090\"]\n";
        let compose = |flag: &str| {
            format!(
                "services:\n  prometheus:\n    image: prom/prometheus:v2.53.0\n    command: [\"--config.file=/etc/prometheus/prometheus.yml\"{flag}]\n"
            )
        };
        let x009 = |flag: &str| {
            messages_of(
                "X009",
                &[("prometheus.yml", config), ("rules.yml", RULES), ("docker-compose.yml", &compose(flag))],
            )
        };
        assert_eq!(x009("").len(), 1);
        assert!(x009(", \"--web.enable-remote-write-receiver\"").is_empty(), "no agent configuration in sight");
        let agent = |jobs: &str| {
            messages_of(
                "X009",
                &[
                    ("prometheus.yml", config),
                    ("rules.yml", RULES),
                    ("docker-compose.yml", &compose(", \"--web.enable-remote-write-receiver\"")),
                    ("alloy/node.alloy", jobs),
                ],
            )
        };
        assert!(agent("prometheus.scrape \"tidb\" {\n  job_name = \"tidb\"\n}\n").is_empty());
        assert_eq!(agent("prometheus.scrape \"x\" {\n  // job_name = \"tidb\"\n  job_name = \"other\"\n}\n").len(), 1);
    }

    /// A rule file no `rule_files` names (a test fixture) is evaluated by nothing.
    #[test]
    fn rule_files_prometheus_does_not_load_are_not_judged() {
        let config = |files: &str| {
            format!(
                "rule_files: [{files}]\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [\"node:9100\"]\n"
            )
        };
        let x009 = |files: &str| {
            messages_of("X009", &[("prometheus.yml", &config(files)), ("tests/fixtures/rules.yml", RULES)])
        };
        assert!(x009("alerts.yml").is_empty());
        assert_eq!(x009("tests/fixtures/*.yml").len(), 1);
        assert_eq!(x009("/etc/prometheus/rules.yml").len(), 1, "a container path matches the file's name");
    }

    /// `alert.rules`, Prometheus' conventional name, is a rule file too.
    #[test]
    fn rules_files_named_the_prometheus_way_are_read() {
        let config = "rule_files: [alert.rules]\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [\"node-exporter:9100\"]\n";
        let rules = "groups:\n  - name: db\n    rules:\n      - alert: PostgresDown\n        expr: pg_up == 0\n        for: 1m\n";
        let found = messages_of("X009", &[("prometheus.yml", config), ("alert.rules", rules)]);
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
