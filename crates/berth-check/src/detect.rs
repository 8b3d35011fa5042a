//! What a file is, from its name first and its content second. Whether a
//! file sits in a Helm chart depends on its neighbours, so [`crate::helm`]
//! refines these kinds once every path is known.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A berth spec: YAML with top-level `version:`, `name:` and
    /// `services:` (or, named `berth.yaml`, at least `version:`).
    BerthSpec,
    /// Kubernetes objects (`apiVersion:` and `kind:`): multi-document YAML,
    /// `List`s, Kustomize output.
    Kubernetes,
    Compose,
    Dockerfile,
    Nginx,
    PrometheusConfig,
    PrometheusRules,
    /// systemd units and their `.d/*.conf` drop-ins.
    Systemd,
    /// `tmpfiles.d` lines: directories that exist before units start.
    Tmpfiles,
    /// `berth-check.yaml`: suppressions with reasons.
    CheckConfig,
    /// A `.env` file: values for compose interpolation, not checked itself.
    EnvFile,
    /// YAML of a format berth has no rules for, read for what holds in any
    /// YAML (duplicate keys): a `berth.yaml` that is not a spec (Grafana's
    /// provider for berth's dashboards), or a file with `apiVersion:` but no
    /// `kind:` (Grafana provisioning), which is no Kubernetes object.
    Yaml,
    /// A Helm chart's `Chart.yaml`: its directory is a chart. Read as plain YAML.
    HelmChart,
    /// A file in a Helm chart's `templates/`: Go template text that is YAML
    /// only once helm renders it, which berth check cannot do; not checked.
    HelmTemplate,
    /// Not a deployment file berth reads; skipped without a finding.
    Other,
}

pub fn kind(path: &str, text: &str) -> Kind {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    if lower == ".env" {
        return Kind::EnvFile;
    }
    if crate::config::is_config(&lower) {
        return Kind::CheckConfig;
    }
    if lower == "dockerfile" || lower.starts_with("dockerfile.") || lower.ends_with(".dockerfile") {
        return Kind::Dockerfile;
    }
    const UNITS: [&str; 6] = [".service", ".socket", ".timer", ".mount", ".target", ".path"];
    if UNITS.iter().any(|e| lower.ends_with(e)) {
        return Kind::Systemd;
    }
    let dir = path.rsplit(['/', '\\']).nth(1).unwrap_or("");
    if lower.ends_with(".conf") {
        if dir == "tmpfiles.d" {
            return Kind::Tmpfiles;
        }
        if UNITS.iter().any(|e| dir.ends_with(&format!("{e}.d"))) {
            return Kind::Systemd;
        }
        if lower == "nginx.conf" || nginx_blocks(text) {
            return Kind::Nginx;
        }
    }
    let yaml = lower.ends_with(".yaml") || lower.ends_with(".yml");
    if !yaml {
        return Kind::Other;
    }
    // Helm knows the chart file by this exact name only.
    if name == "Chart.yaml" {
        return Kind::HelmChart;
    }
    // A Jinja, Liquid or Go template that renders to YAML is not YAML yet
    // (`{% for ... %}` lines, a document that opens with `{{`): nothing to
    // check until it is rendered, and no E001 for not being YAML.
    if text.lines().any(|l| l.trim_start().starts_with("{%")) || text.trim_start().starts_with("{{") {
        return Kind::Other;
    }
    let has_top = |key: &str| text.lines().any(|l| l.starts_with(key) && l[key.len()..].starts_with(':'));
    // The name alone does not make a spec: other tools name files after
    // berth too (Grafana's provider for berth's dashboards is
    // `provisioning/dashboards/berth.yaml`). A spec opens with `version:`;
    // one that has only that still gets its diagnostics (what is missing).
    let named_spec = lower == "berth.yaml" || lower == "berth.yml";
    if named_spec && has_top("version") {
        return Kind::BerthSpec;
    }
    if lower.starts_with("docker-compose") || lower.starts_with("compose.") || lower.starts_with("compose-") {
        return Kind::Compose;
    }
    if has_top("apiVersion") || text.contains("\napiVersion:") || text.contains("\n  apiVersion:") {
        // Every Kubernetes object has a kind; Grafana's provisioning files
        // have `apiVersion: 1` and none.
        return if text.contains("kind:") { Kind::Kubernetes } else { Kind::Yaml };
    }
    if has_top("scrape_configs") || has_top("global") && has_top("rule_files") {
        return Kind::PrometheusConfig;
    }
    if has_top("groups") && text.contains("rules:") {
        return Kind::PrometheusRules;
    }
    if has_top("services") && (has_top("volumes") || has_top("networks") || text.contains("image:")) && !has_top("name")
    {
        return Kind::Compose;
    }
    if has_top("version") && has_top("name") && has_top("services") {
        return Kind::BerthSpec;
    }
    if named_spec { Kind::Yaml } else { Kind::Other }
}

/// `server {`, `http {`, `upstream x {` or `location / {` at the start of a line.
fn nginx_blocks(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        ["server", "http", "upstream", "location"].iter().any(|b| {
            l.strip_prefix(b).is_some_and(|rest| rest.starts_with([' ', '{', '\t']) && rest.trim_end().ends_with('{'))
        })
    })
}

#[cfg(test)]
mod template_tests {
    use super::{Kind, kind};

    #[test]
    fn templates_are_not_yaml_yet() {
        let liquid = "groups:\n{% for g in site.data.rules %}\n  - name: {{ g.name }}\n{% endfor %}\n";
        assert_eq!(kind("dist/template.yml", liquid), Kind::Other);
        assert_eq!(kind("k8s/x.yaml", "{{ include \"chart\" . }}\n"), Kind::Other);
        assert_eq!(kind("k8s/x.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: { a: \"{{x}}\" }\n"), Kind::Kubernetes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_then_content() {
        assert_eq!(kind("app/Dockerfile", ""), Kind::Dockerfile);
        assert_eq!(kind("build/api.Dockerfile", ""), Kind::Dockerfile);
        assert_eq!(kind("deploy/web.service", ""), Kind::Systemd);
        assert_eq!(kind("deploy/web.service.d/limits.conf", ""), Kind::Systemd);
        assert_eq!(kind("deploy/tmpfiles.d/web.conf", ""), Kind::Tmpfiles);
        assert_eq!(kind("nginx/conf.d/site.conf", "upstream app {\n server app:8000;\n}\n"), Kind::Nginx);
        assert_eq!(kind("redis/redis.conf", "maxmemory 1gb\n"), Kind::Other);
        assert_eq!(kind("docker-compose.override.yml", ""), Kind::Compose);
        assert_eq!(kind("k8s/all.yaml", "---\napiVersion: v1\nkind: Service\n"), Kind::Kubernetes);
        assert_eq!(kind("prom/rules.yml", "groups:\n  - name: x\n    rules: []\n"), Kind::PrometheusRules);
        assert_eq!(kind("prometheus.yml", "scrape_configs:\n  - job_name: a\n"), Kind::PrometheusConfig);
        assert_eq!(kind("berth.yaml", "version: 1\nname: shop\nservices: {}\n"), Kind::BerthSpec);
        assert_eq!(kind("deploy/shop.yaml", "version: 1\nname: shop\nservices: {}\n"), Kind::BerthSpec);
        assert_eq!(kind("berth.yml", "version: 1\n"), Kind::BerthSpec);
        assert_eq!(kind("grafana/provisioning/dashboards/berth.yaml", "apiVersion: 1\nproviders: []\n"), Kind::Yaml);
        assert_eq!(kind("grafana/provisioning/datasources/prometheus.yaml", "apiVersion: 1\n"), Kind::Yaml);
        assert_eq!(kind("berth.yaml", ""), Kind::Yaml);
        assert_eq!(kind("chart/Chart.yaml", "apiVersion: v2\nname: web\n"), Kind::HelmChart);
        assert_eq!(kind("README.md", ""), Kind::Other);
        assert_eq!(kind("values.yaml", "replicaCount: 1\n"), Kind::Other);
    }
}
