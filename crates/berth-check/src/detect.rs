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
    /// `NAME=value` lines: a `.env` file (also compose's interpolation
    /// values), `*.env`, `.env.*`, `env`, `environment`, `*.environment`
    /// whose every line is an assignment, and a file a systemd unit names
    /// in `EnvironmentFile=` that reads as one (see [`environment_files`]).
    EnvFile,
    /// A shell script: `.sh`/`.bash`, or a `sh`/`bash`/`dash`/`ash`
    /// interpreter line (`#!/bin/sh`, `#!/usr/bin/env bash`) under any name.
    Shell,
    /// A CloudFormation template (YAML or JSON): `AWSTemplateFormatVersion`,
    /// or top-level `Resources` of `AWS::` types.
    #[serde(rename = "cloudformation")]
    CloudFormation,
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
    // An empty text (a name tested before the file is read) keeps the kind
    // the name suggests.
    if env_name(&lower) && (text.trim().is_empty() || crate::graph::envfile::looks_like_env(text)) {
        return Kind::EnvFile;
    }
    if crate::config::is_config(&lower) {
        return Kind::CheckConfig;
    }
    if lower == "dockerfile" || lower.starts_with("dockerfile.") || lower.ends_with(".dockerfile") {
        return Kind::Dockerfile;
    }
    // `Dockerfile-workers` (Synapse): the name, and a `FROM` to be sure.
    let from = || text.is_empty() || text.lines().any(|l| l.trim_start().to_ascii_uppercase().starts_with("FROM "));
    if (lower.starts_with("dockerfile-") || lower.starts_with("dockerfile_")) && !lower.contains('.') && from() {
        return Kind::Dockerfile;
    }
    const UNITS: [&str; 6] = [".service", ".socket", ".timer", ".mount", ".target", ".path"];
    if UNITS.iter().any(|e| lower.ends_with(e)) {
        return Kind::Systemd;
    }
    match interpreter(text) {
        Some(shell) if SHELLS.contains(&shell) => return Kind::Shell,
        // `x.sh` that says `#!/usr/bin/env zsh` is not for a bash grammar.
        Some(_) => {}
        None if lower.ends_with(".sh") || lower.ends_with(".bash") => return Kind::Shell,
        None => {}
    }
    let dir = path.rsplit(['/', '\\']).nth(1).unwrap_or("");
    // A Go or Jinja template of an nginx config (consul-template,
    // confd, Ansible) is not nginx until it is rendered.
    if lower.ends_with(".conf") && (text.contains("{{") || text.contains("{%")) {
        return Kind::Other;
    }
    if lower.ends_with(".conf") {
        if dir == "tmpfiles.d" {
            return Kind::Tmpfiles;
        }
        if UNITS.iter().any(|e| dir.ends_with(&format!("{e}.d"))) {
            return Kind::Systemd;
        }
        // supervisord's `[program:nginx]` section file is no nginx config,
        // nor a php-fpm pool file named `nginx.conf` (`;` comments, `key =
        // value` lines): without a block, nginx needs a `;`-ended directive.
        let ini = !text.contains('{')
            && (text.lines().any(|l| l.trim_start().starts_with('[') && l.trim_end().ends_with(']'))
                || !text.lines().map(str::trim).any(|l| !l.starts_with(['#', ';']) && l.ends_with(';')));
        if lower == "nginx.conf" && !ini || nginx_blocks(text) {
            return Kind::Nginx;
        }
    }
    // A CloudFormation `.template` whose UserData writes an nginx config
    // is CloudFormation, not nginx.
    if lower.ends_with(".template") && crate::graph::cloudformation::looks_like_template(text) {
        return Kind::CloudFormation;
    }
    // nginx files named otherwise (`proxy/conf`, `nginx.conf.template` for
    // the image's envsubst, a `nginx-conf.d` file): known by their blocks
    // and `;`-ended directives, when the name does not say another format.
    let extension = lower.rsplit_once('.').map(|(_, e)| e);
    let nginx_name = lower.contains("nginx")
        || lower.contains("conf")
        || matches!(extension, None | Some("template" | "tmpl" | "site" | "vhost" | "d"));
    let other_format = matches!(
        extension,
        Some(
            "yaml"
                | "yml"
                | "json"
                | "md"
                | "txt"
                | "py"
                | "js"
                | "ts"
                | "go"
                | "rs"
                | "php"
                | "rb"
                | "erb"
                | "j2"
                | "jinja"
                | "jinja2"
                | "tpl"
                | "html"
                | "lua"
                | "sh"
        )
    );
    if nginx_name
        && !other_format
        && !text.contains("{{")
        && !text.contains("{%")
        && !text.contains("<%")
        && nginx_blocks(text)
        && text.lines().any(|l| l.trim_end().ends_with(';'))
    {
        return Kind::Nginx;
    }
    let has_top = |key: &str| text.lines().any(|l| l.starts_with(key) && l[key.len()..].starts_with(':'));
    // Prometheus' own convention for rule files (`alert.rules`, named by a
    // configuration's `rule_files`): YAML under another extension. udev's
    // and Snort's `.rules` have no `groups:`.
    if lower.ends_with(".rules") && has_top("groups") && text.contains("rules:") {
        return Kind::PrometheusRules;
    }
    let yaml = lower.ends_with(".yaml") || lower.ends_with(".yml");
    // CloudFormation's own extensions besides YAML's.
    let json = lower.ends_with(".json") || lower.ends_with(".template");
    if !yaml && !json {
        return Kind::Other;
    }
    // Helm knows the chart file by this exact name only.
    if name == "Chart.yaml" {
        return Kind::HelmChart;
    }
    // A Jinja, Liquid or Go template that renders to YAML is not YAML yet
    // (`{% for ... %}` lines, a document that opens with `{{`): nothing to
    // check until it is rendered, and no E001 for not being YAML.
    if text.contains("{%") && text.lines().any(|l| l.trim_start().starts_with("{%"))
        || text.trim_start().starts_with("{{")
    {
        return Kind::Other;
    }
    if crate::graph::cloudformation::looks_like_template(text) {
        return Kind::CloudFormation;
    }
    if !yaml {
        return Kind::Other;
    }
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
    // A GitHub Actions workflow says which Dockerfile builds which image
    // (see `graph::builds`).
    if path.replace('\\', "/").contains(".github/workflows/") && has_top("jobs") {
        return Kind::Yaml;
    }
    if named_spec { Kind::Yaml } else { Kind::Other }
}

/// Whether a file named `path` may be a deployment file, before reading
/// it: a kind its name gives, no extension (scripts, env files, `proxy/conf`),
/// an extension that several kinds share, or an nginx-looking name
/// (`nginx.conf.template`, `nginx-conf.d`). The rest of a tree is not read.
pub fn worth_reading(path: &str) -> bool {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    const SHARED: [&str; 15] = [
        ".rules",
        ".alloy",
        ".yaml",
        ".yml",
        ".conf",
        ".env",
        ".types",
        ".json",
        ".template",
        ".environment",
        ".tmpl",
        ".site",
        ".vhost",
        ".d",
        ".nginx",
    ];
    kind(path, "") != Kind::Other
        || !base.contains('.')
        || SHARED.iter().any(|e| lower.ends_with(e))
        || lower.contains("nginx") && !lower.contains(".md") && !lower.ends_with(".erb") && !lower.ends_with(".php")
}

/// Drops what a tree walk read but no rule needs, before the check holds
/// every file in memory: files of no kind berth reads, except those other
/// files may name (an nginx `include`, an `EnvironmentFile=`,
/// `mime.types`, an agent's `*.alloy` scrape jobs) and, in a tree with a
/// kustomization, the YAML and JSON it
/// may name: JSON 6902 patches are plain lists, and a kustomization need
/// not say `apiVersion:`. Dropping those would leave every patch unapplied.
/// The configuration files a berth spec mounts (`files:`) stay too: the
/// spec renders with them.
pub fn retain_needed(inputs: &mut Vec<crate::Input>) {
    let kustomized = inputs.iter().any(|i| {
        let base = i.path.rsplit(['/', '\\']).next().unwrap_or(&i.path);
        crate::graph::units::KUSTOMIZATIONS.contains(&base)
    });
    let named = crate::spec::named_files(inputs);
    inputs.retain(|i| {
        let lower = i.path.to_ascii_lowercase();
        crate::spec::join("", &i.path).is_some_and(|p| named.contains_key(&p))
            || kind(&i.path, &i.text) != Kind::Other
            || [".conf", ".env", ".types", ".alloy"].iter().any(|e| lower.ends_with(e))
            || kustomized && [".yaml", ".yml", ".json"].iter().any(|e| lower.ends_with(e))
    });
}

/// Shells whose scripts the bash grammar reads.
const SHELLS: [&str; 4] = ["sh", "bash", "dash", "ash"];

/// The program an interpreter line (`#!/bin/bash -e`, `#!/usr/bin/env -S
/// bash -eu`) runs, without its directory.
fn interpreter(text: &str) -> Option<&str> {
    let line = text.strip_prefix("#!")?.lines().next().unwrap_or("");
    let mut words = line.split_whitespace();
    let first = words.next()?;
    let program = first.rsplit('/').next().unwrap_or(first);
    if program != "env" {
        return Some(program);
    }
    let next = words.find(|w| !w.starts_with('-') && !w.contains('='))?;
    Some(next.rsplit('/').next().unwrap_or(next))
}

/// Names env files go by: `app.env`, `.env.production`, `env`,
/// `environment`, `app.environment` (not `.env.yaml` and the like).
fn env_name(lower: &str) -> bool {
    let data = [".yaml", ".yml", ".json", ".toml", ".sh", ".py", ".js", ".ts", ".md"];
    (lower.ends_with(".env")
        || lower.starts_with(".env.")
        || lower == "env"
        || lower == "environment"
        || lower.ends_with(".environment"))
        && !data.iter().any(|e| lower.ends_with(e))
}

/// Files that systemd units name in `EnvironmentFile=` and that read as env
/// files become [`Kind::EnvFile`] whatever their name
/// (`EnvironmentFile=/etc/default/backup` names `deploy/default/backup`).
/// Needs every file, so it runs once the kinds by name and content are known.
pub fn environment_files(files: &[berth_diagnostics::SourceFile], kinds: &mut [Kind]) {
    let mut named: Vec<String> = Vec::new();
    for (file, kind) in files.iter().zip(kinds.iter()) {
        if *kind == Kind::Systemd {
            let unit = crate::graph::UnitFile::parse(0, &file.name, &file.text);
            named.extend(unit.settings.into_iter().filter(|s| s.key == "EnvironmentFile").map(|s| s.value));
        }
    }
    if named.is_empty() {
        return;
    }
    for (file, kind) in files.iter().zip(kinds.iter_mut()) {
        if *kind == Kind::Other
            && named.iter().any(|pattern| crate::graph::paths::tail_matches(pattern, &file.name))
            && crate::graph::envfile::looks_like_env(&file.text)
        {
            *kind = Kind::EnvFile;
        }
    }
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
        let consul = "upstream app {\n{{range service \"app\"}}  server {{.Address}}:{{.Port}};\n{{end}}}\n";
        assert_eq!(kind("nginx/nginx.conf", consul), Kind::Other);
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
        assert_eq!(kind("docker/Dockerfile-workers", "ARG FROM=x\nFROM $FROM\n"), Kind::Dockerfile);
        assert_ne!(kind("docker/dockerfile-notes", "how we build images\n"), Kind::Dockerfile);
        assert_eq!(kind("deploy/web.service", ""), Kind::Systemd);
        assert_eq!(kind("deploy/web.service.d/limits.conf", ""), Kind::Systemd);
        assert_eq!(kind("deploy/tmpfiles.d/web.conf", ""), Kind::Tmpfiles);
        assert_eq!(kind("nginx/conf.d/site.conf", "upstream app {\n server app:8000;\n}\n"), Kind::Nginx);
        assert_eq!(kind("redis/redis.conf", "maxmemory 1gb\n"), Kind::Other);
        let site = "upstream web {\n    server web:8000;\n}\nserver {\n    listen 80;\n}\n";
        for name in ["proxy/conf", "nginx-conf.d", "nginx/nginx.conf.template", "deploy/site.vhost"] {
            assert_eq!(kind(name, site), Kind::Nginx, "{name}");
        }
        assert_eq!(kind("Caddyfile", "example.com {\n    reverse_proxy web:8000\n}\n"), Kind::Other);
        assert_eq!(kind("docs/nginx.md", site), Kind::Other);
        assert_eq!(kind("cookbook/nginx.conf.erb", "server {\n  listen <%= @port %>;\n}\n"), Kind::Other);
        assert_eq!(
            kind("supervisor_conf.d/nginx.conf", "[program:nginx]\ncommand=nginx -g 'daemon off;'\n"),
            Kind::Other
        );
        let fpm =
            "; Limits the extensions FPM parses.\n; Default Value: .php\nsecurity.limit_extensions = .php .html\n";
        assert_eq!(kind("conf/nginx.conf", fpm), Kind::Other, "a php-fpm pool file mounted into php-fpm.d");
        assert_eq!(kind("conf/nginx.conf", "client_max_body_size 10m;\n"), Kind::Nginx, "a fragment of directives");
        assert_eq!(kind("nginx/site.conf.j2", "server {\n  listen {{ port }};\n}\n"), Kind::Other);
        assert_eq!(kind("docker-compose.override.yml", ""), Kind::Compose);
        assert_eq!(kind("k8s/all.yaml", "---\napiVersion: v1\nkind: Service\n"), Kind::Kubernetes);
        assert_eq!(kind("prom/rules.yml", "groups:\n  - name: x\n    rules: []\n"), Kind::PrometheusRules);
        assert_eq!(kind("prometheus/alert.rules", "groups:\n  - name: x\n    rules: []\n"), Kind::PrometheusRules);
        assert_eq!(kind("udev/99-usb.rules", "SUBSYSTEM==\"usb\", MODE=\"0666\"\n"), Kind::Other);
        assert!(worth_reading("prometheus/alert.rules"));
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

    #[test]
    fn a_kustomized_tree_keeps_the_plain_yaml_its_kustomizations_may_name() {
        let input = |path: &str, text: &str| crate::Input { path: path.to_owned(), text: text.to_owned() };
        let patch = "- {op: remove, path: /spec/selector/release}\n";
        let mut plain = vec![input("svc-patch.yaml", patch), input("README.md", "# hi\n"), input("nginx/x.conf", "")];
        retain_needed(&mut plain);
        let kept: Vec<&str> = plain.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(kept, ["nginx/x.conf"], "without a kustomization a YAML list is nothing berth reads");
        let mut kustomized = vec![
            input("kustomization.yaml", "resources: [svc.yaml]\n"),
            input("overlays/svc-patch.yaml", patch),
            input("README.md", "# hi\n"),
        ];
        retain_needed(&mut kustomized);
        let kept: Vec<&str> = kustomized.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(kept, ["kustomization.yaml", "overlays/svc-patch.yaml"]);
    }
}

#[cfg(test)]
mod content_tests {
    use berth_diagnostics::SourceFile;

    use super::{Kind, environment_files, kind};

    #[test]
    fn shell_scripts_by_name_or_interpreter_line() {
        assert_eq!(kind("deploy/backup.sh", ""), Kind::Shell);
        assert_eq!(kind("ops/restore.bash", "pg_restore -d app dump\n"), Kind::Shell);
        assert_eq!(kind("scripts/backup", "#!/bin/bash\nset -eu\npg_dump app > /b/app.sql\n"), Kind::Shell);
        assert_eq!(kind("docker/entrypoint", "#!/usr/bin/env bash\nexec \"$@\"\n"), Kind::Shell);
        assert_eq!(kind("bin/deploy", "#!/bin/sh -e\nkubectl apply -f k8s/\n"), Kind::Shell);
        assert_eq!(kind("bin/run", "#!/usr/bin/env -S bash -euo pipefail\n"), Kind::Shell);
        assert_eq!(kind("tools/zshy.sh", "#!/usr/bin/env zsh\n"), Kind::Other);
        assert_eq!(kind("tools/report", "#!/usr/bin/env python3\nprint(1)\n"), Kind::Other);
        assert_eq!(kind("scripts/backup", ""), Kind::Other);
    }

    #[test]
    fn cloudformation_templates_under_any_yaml_or_json_name() {
        let short = "Resources:\n  Db:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      DeletionProtection: !Ref Protect\n      Tags: !If [IsProd, [], !Ref AWS::NoValue]\n";
        assert_eq!(kind("infra/stack.yml", short), Kind::CloudFormation);
        assert_eq!(
            kind("infra/stack.yml", "AWSTemplateFormatVersion: 2010-09-09\nResources: {}\n"),
            Kind::CloudFormation
        );
        let json = "{\n  \"AWSTemplateFormatVersion\": \"2010-09-09\",\n  \"Resources\": {}\n}\n";
        assert_eq!(kind("cfn/network.json", json), Kind::CloudFormation);
        assert_eq!(kind("cfn/network.template", json), Kind::CloudFormation);
        // UserData that writes an nginx server block does not make it nginx.
        let userdata = "AWSTemplateFormatVersion: 2010-09-09\nResources:\n  Web:\n    Type: AWS::EC2::Instance\n    Properties:\n      UserData: !Base64 |\n        cat > /etc/nginx/conf.d/app.conf <<EOF\n        server {\n          listen 80;\n          location / { proxy_pass http://127.0.0.1:8000; }\n        }\n        EOF\n";
        assert_eq!(kind("templates/application.template", userdata), Kind::CloudFormation);
        assert_eq!(kind("ecs/web-task-definition.json", "{\"family\": \"web\"}"), Kind::Other);
        assert_eq!(
            kind("serverless.yml", "service: x\nresources:\n  Resources:\n    Q:\n      Type: AWS::SQS::Queue\n"),
            Kind::Other
        );
        // The short-form tags read without a parse error.
        assert!(berth_spec::parse_documents(short).is_ok());
    }

    #[test]
    fn env_files_by_name_and_content() {
        assert_eq!(
            kind("deploy/app.environment", "# app\nDATABASE_URL=postgres://db/app\nexport LOG_LEVEL=info\n"),
            Kind::EnvFile
        );
        assert_eq!(kind("deploy/app.environment", "this is not one\n"), Kind::Other);
        assert_eq!(kind("config/env", "A=1\n"), Kind::EnvFile);
        assert_eq!(kind("srv/environment", "A=1\nB=2\n"), Kind::EnvFile);
        assert_eq!(kind("web/web.env", ""), Kind::EnvFile);
        assert_eq!(kind(".env.production", "API_URL=https://api.example.com\n"), Kind::EnvFile);
        assert_eq!(kind("conda/environment.yml", "name: x\n"), Kind::Other);
        assert_eq!(kind(".env", "not even assignments\n"), Kind::EnvFile);
    }

    #[test]
    fn files_named_by_environment_file() {
        let files = vec![
            SourceFile::new(
                "deploy/backup.service",
                "[Service]\nEnvironmentFile=-/etc/default/backup\nExecStart=/usr/local/bin/backup\n",
            ),
            SourceFile::new("deploy/default/backup", "PGHOST=db\nPGDATABASE=app\n"),
            SourceFile::new("deploy/default/other", "PGHOST=db\n"),
            SourceFile::new("deploy/notes/backup", "PGHOST=db\n"),
        ];
        let mut kinds: Vec<Kind> = files.iter().map(|f| kind(&f.name, &f.text)).collect();
        assert_eq!(kinds, [Kind::Systemd, Kind::Other, Kind::Other, Kind::Other]);
        environment_files(&files, &mut kinds);
        assert_eq!(kinds, [Kind::Systemd, Kind::EnvFile, Kind::Other, Kind::Other]);
    }
}
