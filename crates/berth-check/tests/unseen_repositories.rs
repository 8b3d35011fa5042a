//! What 15 repositories berth had not seen taught it (session 26's graded
//! corpus, `bench/check-grades`): each case is the smallest form of a
//! construct that was misread, with the defect the rule must still name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use berth_check::{Input, check};

fn codes(files: &[(&str, &str)], code: &str) -> Vec<String> {
    let inputs = files.iter().map(|(p, t)| Input { path: (*p).into(), text: (*t).into() }).collect();
    check(inputs, None)
        .findings
        .into_iter()
        .filter(|f| f.diagnostic.code.id == code)
        .map(|f| f.diagnostic.message)
        .collect()
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: grafana\n  namespace: monitoring\nspec:\n  selector: { app: grafana }\n  ports:\n    - { name: web, port: 3000 }\n";

#[test]
fn the_prometheus_operators_services_exist() {
    let monitor = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: prometheus\n  namespace: monitoring\nspec:\n  selector:\n    matchLabels: { operated-prometheus: \"true\" }\n  endpoints:\n    - port: web\n";
    assert!(codes(&[("svc.yaml", SERVICE), ("sm.yaml", monitor)], "X010").is_empty());
    let grafana =
        monitor.replace("operated-prometheus: \"true\"", "app: grafana").replace("port: web", "port: metrics");
    assert_eq!(codes(&[("svc.yaml", SERVICE), ("sm.yaml", &grafana)], "X010").len(), 1);

    let ingress = |backend: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: prometheus\n  namespace: monitoring\nspec:\n  rules:\n    - http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: {{ name: {backend}, port: {{ number: 9090 }} }}\n"
        )
    };
    let operator = SERVICE.replace("grafana", "prometheus-operator");
    assert!(codes(&[("svc.yaml", &operator), ("ing.yaml", &ingress("prometheus-operated"))], "X014").is_empty());
    assert_eq!(codes(&[("svc.yaml", &operator), ("ing.yaml", &ingress("prometheus-operater"))], "X014").len(), 1);
}

#[test]
fn an_external_name_service_has_no_ports_to_compare() {
    let external = "apiVersion: v1\nkind: Service\nmetadata:\n  name: bar-external\nspec:\n  type: ExternalName\n  externalName: bar.bar.svc.cluster.local\n";
    let ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: bar\nspec:\n  rules:\n    - http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service: { name: bar-external, port: { number: 8956 } }\n";
    assert!(codes(&[("svc.yaml", external), ("ing.yaml", ingress)], "X014").is_empty());
}

#[test]
fn the_api_servers_service_is_always_deployed() {
    let prometheus = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: prometheus\nspec:\n  selector:\n    matchLabels: { app: prometheus }\n  template:\n    metadata:\n      labels: { app: prometheus }\n    spec:\n      containers:\n        - name: prometheus\n          image: prom/prometheus:v2.53.0\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: prometheus\nspec:\n  selector: { app: prometheus }\n  ports:\n    - port: 9090\n";
    let config = |target: &str| {
        format!("scrape_configs:\n  - job_name: cadvisor\n    static_configs:\n      - targets: [\"{target}\"]\n")
    };
    let x010 = |target: &str| codes(&[("prometheus.yaml", prometheus), ("prometheus.yml", &config(target))], "X010");
    assert!(x010("kubernetes.default.svc:443").is_empty());
    assert_eq!(x010("kubernetes-api.default.svc:443").len(), 1);
}

#[test]
fn an_aws_key_without_the_shape_of_one_is_an_emulators() {
    let configmap = |id: &str, secret: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: carts\ndata:\n  AWS_ACCESS_KEY_ID: {id}\n  AWS_SECRET_ACCESS_KEY: {secret}\n  DB_PASSWORD: password\n"
        )
    };
    let found = codes(&[("cm.yaml", &configmap("key", "secret"))], "K017");
    assert_eq!(found.len(), 1, "only DB_PASSWORD: {found:?}");
    let real = configmap("AKIAABCDEFGHIJKLMNOP", "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY1");
    assert_eq!(codes(&[("cm.yaml", &real)], "K017").len(), 3);
}

#[test]
fn a_template_that_does_not_parse_is_not_a_parse_error() {
    let jinja = "services:\n  docs:\n    image: {{ cookiecutter.project_slug }}_local_docs\n";
    assert!(codes(&[("{{cookiecutter.project_slug}}/docker-compose.docs.yml", jinja)], "E001").is_empty());
    assert!(codes(&[("docker-compose.docs.yml", jinja)], "E001").is_empty());
    // GitHub's `${{ }}` is no template: the broken quote is still an error.
    let workflow = "on: push\njobs:\n  t:\n    env:\n      KEY: ${{ secrets.KEY }}\n    steps:\n      - run: \"echo\n";
    assert_eq!(codes(&[("docker-compose.yml", workflow)], "E001").len(), 1);
}

#[test]
fn vmalert_groups_of_another_language_are_not_promql() {
    let rules = "groups:\n  - name: logs\n    type: vlogs\n    rules:\n      - alert: Errors\n        expr: 'level:error | stats count(*) as c | filter c:>10'\n";
    assert!(codes(&[("rules/alerts.rules.yml", rules)], "P003").is_empty());
    let promql = rules.replace("    type: vlogs\n", "");
    assert_eq!(codes(&[("rules/alerts.rules.yml", &promql)], "P003").len(), 1);
}

#[test]
fn a_script_that_sets_a_token_to_its_own_name_asks_for_one() {
    let script =
        |value: &str| format!("#!/bin/bash\nset -euo pipefail\nHF_TOKEN='{value}' # Update this\nexport HF_TOKEN\n");
    assert!(codes(&[("submit.sh", &script("HF_TOKEN"))], "B004").is_empty());
    assert_eq!(codes(&[("submit.sh", &script("hf_Zx9kq2LmPp0"))], "B004").len(), 1);
}

#[test]
fn a_build_script_may_install_the_health_check_tool() {
    let dockerfile = |run: &str| {
        format!(
            "FROM ubuntu:22.04\n{run}\nUSER 1000\nHEALTHCHECK CMD [\"curl\", \"-fs\", \"http://localhost/health\"]\n"
        )
    };
    let installed = dockerfile(
        "RUN tar -xf app.tar.gz && \\\n    /root/app/scripts/setup/install --hostname=x && \\\n    apt-get clean",
    );
    assert!(codes(&[("Dockerfile", &installed)], "D004").is_empty());
    let unknown = dockerfile("RUN tar -xf app.tar.gz && ln -s /bin/true /etc/init.d/nginx");
    assert_eq!(codes(&[("Dockerfile", &unknown)], "D004").len(), 1);
}

#[test]
fn a_service_monitor_is_judged_against_its_own_units_services() {
    let kustomization = |files: &str| {
        format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [{files}]\n")
    };
    let monitor = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: ingress-nginx\n  namespace: ingress-nginx\nspec:\n  selector:\n    matchLabels: { app: ingress-nginx }\n  endpoints:\n    - port: metrics\n";
    let controller = "apiVersion: v1\nkind: Service\nmetadata:\n  name: ingress-nginx-controller\n  namespace: ingress-nginx\n  labels: { app: ingress-nginx }\nspec:\n  selector: { app: ingress-nginx }\n  ports:\n    - { name: http, port: 80 }\n";
    let other = "apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: ingress-nginx\n  labels: { app: echo }\nspec:\n  selector: { app: echo }\n  ports:\n    - { name: http, port: 80 }\n";
    let a = kustomization("sm.yaml, echo.yaml");
    let b = kustomization("svc.yaml");
    // Another lesson's controller Service is not the one this lesson's Helm release makes.
    let apart = [
        ("136/kustomization.yaml", a.as_str()),
        ("136/sm.yaml", monitor),
        ("136/echo.yaml", other),
        ("046/kustomization.yaml", b.as_str()),
        ("046/svc.yaml", controller),
    ];
    assert!(codes(&apart, "X010").is_empty(), "{:?}", codes(&apart, "X010"));
    let own = kustomization("sm.yaml, echo.yaml, svc.yaml");
    let together = [
        ("136/kustomization.yaml", own.as_str()),
        ("136/sm.yaml", monitor),
        ("136/echo.yaml", other),
        ("136/svc.yaml", controller),
    ];
    assert_eq!(codes(&together, "X010").len(), 1, "its own Service lacks the port");
}

#[test]
fn an_image_the_tree_builds_itself_is_no_untagged_pull() {
    let dockerfile = "FROM acme/eks-workshop-environment\nUSER 1000\n";
    let script =
        "#!/bin/bash\nset -euo pipefail\n(cd lab && $CONTAINER_CLI build -q -t acme/eks-workshop-environment .)\n";
    assert!(codes(&[("testing/Dockerfile", dockerfile), ("hack/run-tests.sh", script)], "D002").is_empty());
    assert_eq!(codes(&[("testing/Dockerfile", dockerfile)], "D002").len(), 1);
}

#[test]
fn a_health_check_of_an_image_of_many_servers_is_not_judged_by_expose() {
    let dockerfile = |expose: &str| {
        format!(
            "FROM nginx:1.27-alpine\nEXPOSE {expose}\nUSER 101\nHEALTHCHECK CMD curl -fs http://127.0.0.1:10204/health\n"
        )
    };
    assert!(codes(&[("Dockerfile", &dockerfile("80/tcp 443/tcp 143/tcp 993/tcp 25/tcp"))], "X008").is_empty());
    assert_eq!(codes(&[("Dockerfile", &dockerfile("8080"))], "X008").len(), 1);
}

#[test]
fn a_one_word_image_docker_hub_does_not_have_is_the_builds_own() {
    assert!(codes(&[("core/rspamd/Dockerfile", "FROM base\nUSER 1000\n")], "D002").is_empty());
    assert_eq!(codes(&[("Dockerfile", "FROM ubuntu\nUSER 1000\n")], "D002").len(), 1);
    assert_eq!(codes(&[("Dockerfile", "FROM ldez/traefik-certs-dumper\nUSER 1000\n")], "D002").len(), 1);
}

const RULE_ON_KSM: &str = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: r\n  namespace: monitoring\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: NoRequests\n          expr: absent(kube_pod_container_resource_requests{job=\"kube-state-metrics\"})\n          for: 5m\n";
const MONITOR: &str = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: app\n  namespace: monitoring\nspec:\n  selector:\n    matchLabels: { app: app }\n  endpoints:\n    - port: metrics\n";

#[test]
fn a_chart_installed_from_its_repository_brings_jobs_out_of_sight() {
    let application = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: monitoring\nspec:\n  source:\n    repoURL: https://prometheus-community.github.io/helm-charts\n    chart: kube-prometheus-stack\n    targetRevision: 65.1.0\n";
    let alone = [("rules.yaml", RULE_ON_KSM), ("sm.yaml", MONITOR)];
    assert_eq!(codes(&alone, "X009").len(), 1, "no chart: the job is nowhere");
    let with_chart = [("rules.yaml", RULE_ON_KSM), ("sm.yaml", MONITOR), ("app.yaml", application)];
    assert!(codes(&with_chart, "X009").is_empty());
}

#[test]
fn a_probes_job_is_named_as_the_operator_names_it() {
    let probe = "apiVersion: monitoring.coreos.com/v1\nkind: Probe\nmetadata:\n  name: blog-http-probe\n  namespace: monitoring\nspec:\n  prober: { url: blackbox-exporter.monitoring.svc:9115 }\n  targets:\n    staticConfig:\n      static: [https://blog.example.com]\n";
    let rule = |job: &str| {
        RULE_ON_KSM.replace(
            "absent(kube_pod_container_resource_requests{job=\"kube-state-metrics\"})",
            &format!("probe_success{{job=\"{job}\"}} == 0"),
        )
    };
    let x009 = |job: &str| codes(&[("rules.yaml", &rule(job)), ("sm.yaml", MONITOR), ("probe.yaml", probe)], "X009");
    assert!(x009("probe/monitoring/blog-http-probe").is_empty());
    assert_eq!(x009("probe/monitoring/blog-probe").len(), 1);
}

#[test]
fn a_document_under_a_key_named_for_a_secret_is_settings() {
    let configmap = |value: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  vault-tokens-test: {value}\n")
    };
    assert!(
        codes(&[("cm.yaml", &configmap("'{\"kms\": \"vault\", \"address\": \"https://vault:8200\"}'"))], "K017")
            .is_empty()
    );
    assert_eq!(codes(&[("cm.yaml", &configmap("s.Zx9kq2LmPp0aB"))], "K017").len(), 1);
}

#[test]
fn redis_with_port_zero_listens_on_its_tls_port() {
    let compose = |command: &str| {
        format!("services:\n  redis:\n    image: redis:7.2.5\n    command: {command}\n    ports: [\"6379:6379\"]\n")
    };
    assert!(codes(&[("docker-compose.yml", &compose("redis-server --tls-port 6379 --port 0"))], "X007").is_empty());
    assert_eq!(codes(&[("docker-compose.yml", &compose("redis-server --port 6380"))], "X007").len(), 1);
}
