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
    /// job), job names are not judged.
    AlertOnMissingMetric {
        code: "X009",
        name: "alert-on-missing-metric",
        severity: Error,
        fix: "scrape the exporter or job the rule expects, or correct the metric name or `job` label",
    }
}

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
        let mut jobs: Vec<String> = graph.scrape_jobs.iter().map(|j| j.name.to_owned()).collect();
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
        let relabelled = graph.documents.iter().any(|(_, d)| relabels_job(d));
        let discovered = graph.scrape_jobs.iter().any(|j| j.discovered) || !graph.service_monitors.is_empty();
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
            for selector in &facts.selectors {
                if let Some(job) = &selector.job
                    && !relabelled
                    && !jobs.iter().any(|j| j == job)
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

    /// `alert.rules`, Prometheus' conventional name, is a rule file too.
    #[test]
    fn rules_files_named_the_prometheus_way_are_read() {
        let config = "rule_files: [alert.rules]\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [\"node-exporter:9100\"]\n";
        let rules = "groups:\n  - name: db\n    rules:\n      - alert: PostgresDown\n        expr: pg_up == 0\n        for: 1m\n";
        let found = messages_of("X009", &[("prometheus.yml", config), ("alert.rules", rules)]);
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
