//! Golden files: every file of every target for every example and
//! environment, snapshotted, and rendered twice to prove it byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_render::Target;
use berth_test_support::example_environments;

#[test]
fn renders_match_their_snapshots() {
    for (name, text, envs) in example_environments() {
        for env in envs {
            let spec = berth_spec::load(&text, env.as_deref()).spec.unwrap();
            let mut plan = berth_plan::build(&spec, env.as_deref());
            assert!(plan.read_files(berth_test_support::example_file(&name)).is_empty(), "{name}: files");
            let first = berth_render::render(&plan, &text, Target::ALL);
            let second = berth_render::render(&plan, &text, Target::ALL);
            assert_eq!(first.files, second.files, "{name}: rendering must be deterministic");
            let env = env.as_deref().unwrap_or("base");
            for file in first.files {
                let snapshot = format!("{name}-{env}-{}", file.path.replace('/', "-"));
                insta::assert_snapshot!(snapshot, file.contents);
            }
        }
    }
}

/// What a target leaves out or refuses is part of what it renders: the
/// diagnostics of every example and environment, one line each.
#[test]
fn diagnostics_match_their_snapshots() {
    for (name, text, envs) in example_environments() {
        for env in envs {
            let spec = berth_spec::load(&text, env.as_deref()).spec.unwrap();
            let mut plan = berth_plan::build(&spec, env.as_deref());
            assert!(plan.read_files(berth_test_support::example_file(&name)).is_empty(), "{name}: files");
            let out = berth_render::render(&plan, &text, Target::ALL);
            let lines: Vec<String> = out
                .diagnostics
                .iter()
                .map(|d| {
                    format!(
                        "{}[{}] {}\n  help: {}",
                        d.severity.as_str(),
                        d.code.id,
                        d.message,
                        d.help.as_deref().unwrap_or("-")
                    )
                })
                .collect();
            assert!(!out.has_errors(), "{name}: examples render on every target:\n{}", lines.join("\n"));
            let env = env.as_deref().unwrap_or("base");
            insta::assert_snapshot!(format!("{name}-{env}-diagnostics"), lines.join("\n"));
        }
    }
}

const AUTH_SPEC: &str = r#"
version: 1
name: shop
services:
  api:
    image: ghcr.io/acme/api:1.0.0
    ports: { http: 8080 }
secrets:
  ci-key: {}
edge:
  routes:
    - { path: /admin, service: api, auth: { accept: [api-key] } }
    - { path: /, service: api }
  auth:
    api_keys:
      - { name: ci, secret: ci-key }
"#;

fn plan_of(text: &str) -> berth_plan::Plan {
    let loaded = berth_spec::load(text, None);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    berth_plan::build(&loaded.spec.unwrap(), None)
}

#[test]
fn a_route_with_auth_is_refused_where_it_would_be_open() {
    let plan = plan_of(AUTH_SPEC);
    for target in [
        Target::Nginx,
        Target::Compose,
        Target::Kubernetes,
        Target::Helm,
        Target::Cloudformation,
        Target::Cloudrun,
        Target::Ecs,
    ] {
        let out = berth_render::render(&plan, AUTH_SPEC, &[target]);
        assert!(out.has_errors(), "{target}: auth must not render open");
        let error = out.diagnostics.iter().find(|d| d.is_error()).unwrap();
        assert_eq!(error.code.id, "R002");
        for part in [target.name(), "`auth`", "route `/admin`"] {
            assert!(error.message.contains(part), "{target}: the error names {part}: {}", error.message);
        }
        let help = error.help.as_deref().unwrap();
        assert!(help.contains("accept_unenforced") && help.contains("auth"), "{target}: the way out: {help}");
    }
    // Targets with no traffic of their own have nothing to enforce.
    for target in [Target::Prometheus, Target::Grafana, Target::Runbook, Target::Diagram, Target::Systemd] {
        assert!(!berth_render::render(&plan, AUTH_SPEC, &[target]).has_errors(), "{target}");
    }
}

#[test]
fn an_accepted_gap_renders_and_says_who_enforces_it() {
    let text =
        format!("{AUTH_SPEC}targets:\n  nginx:\n    accept_unenforced:\n      auth: the API checks keys itself\n");
    let plan = plan_of(&text);
    let out = berth_render::render(&plan, &text, &[Target::Nginx]);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let info = out.diagnostics.iter().find(|d| d.code.id == "R002").expect("the accepted gap is reported");
    assert_eq!(info.severity, berth_diagnostics::Severity::Info);
    assert!(info.message.contains("the API checks keys itself"), "{}", info.message);
    // Accepting for nginx says nothing about Kubernetes.
    assert!(berth_render::render(&plan, &text, &[Target::Kubernetes]).has_errors());
}

#[test]
fn berth_defaults_a_target_lacks_are_warnings_not_errors() {
    let text = "version: 1\nname: x\nservices:\n  web: { image: ghcr.io/a/web:1.0.0, ports: { http: 8080 } }\nedge:\n  routes:\n    - { path: /, service: web }\n";
    let plan = plan_of(text);
    let out = berth_render::render(&plan, text, &[Target::Cloudrun]);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    assert!(out.diagnostics.iter().any(|d| d.code.id == "R001" && d.message.contains("default security headers")));
}

#[test]
fn the_ingress_rate_is_the_spec_rate() {
    let text = "version: 1\nname: x\nservices:\n  web: { image: ghcr.io/a/web:1.0.0, ports: { http: 8080 } }\nedge:\n  rate_limits:\n    login: { rate: 5/m, burst: 5 }\n    api: { rate: 20/s, burst: 40 }\n  routes:\n    - { path: /login, service: web, rate_limit: login }\n    - { path: /, service: web, rate_limit: api }\ntargets:\n  kubernetes: { ingress_class: nginx }\n";
    let plan = plan_of(text);
    let out = berth_render::render(&plan, text, &[Target::Kubernetes]);
    assert!(!out.diagnostics.iter().any(|d| d.message.contains("rate")), "{:?}", out.diagnostics);
    let ingress = |route: &str| {
        out.files
            .iter()
            .map(|f| &f.contents)
            .flat_map(|c| c.split("\n---\n"))
            .find(|doc| doc.contains("kind: Ingress") && doc.contains(&format!("path: {route}\n")))
            .unwrap_or_else(|| panic!("an Ingress for {route}"))
            .to_owned()
    };
    let login = ingress("/login");
    assert!(
        login.contains("nginx.ingress.kubernetes.io/limit-rpm: '5'")
            || login.contains("nginx.ingress.kubernetes.io/limit-rpm: \"5\""),
        "{login}"
    );
    assert!(!login.contains("limit-rps"), "{login}");
    let api = ingress("/");
    assert!(api.contains("limit-rps: '20'") || api.contains("limit-rps: \"20\""), "{api}");
    assert!(api.contains("limit-burst-multiplier: '2'") || api.contains("limit-burst-multiplier: \"2\""), "{api}");
}

#[test]
fn with_the_gateway_kubernetes_enforces_auth_through_berth_edge() {
    let text = format!("{AUTH_SPEC}targets:\n  kubernetes:\n    gateway: true\n");
    let plan = plan_of(&text);
    for target in [Target::Kubernetes, Target::Helm] {
        let out = berth_render::render(&plan, &text, &[target]);
        assert!(!out.has_errors(), "{target}: {:?}", out.diagnostics);
        assert!(
            !out.files.iter().any(|f| f.contents.contains("kind: Ingress")),
            "{target}: no Ingress bypasses the edge"
        );
    }
    let out = berth_render::render(&plan, &text, &[Target::Kubernetes]);
    let gateway = &out.files.iter().find(|f| f.path == "kubernetes/gateway.yaml").expect("gateway.yaml").contents;
    let docs: Vec<serde_json::Value> =
        gateway.split("\n---\n").map(|d| serde_saphyr::from_str::<serde_json::Value>(d).unwrap()).collect();
    let of = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("a {kind}"));
    let container = &of("Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], berth_render::BERTH_IMAGE);
    assert_eq!(container["args"][0], "edge");
    assert_eq!(container["args"][1], "/etc/berth/berth.yaml");
    let env = container["env"].as_array().unwrap();
    assert!(
        env.iter().any(|e| e["name"] == "BERTH_SECRET_CI_KEY" && e["valueFrom"]["secretKeyRef"]["key"] == "ci-key"),
        "the API key reaches the edge from its Secret: {env:?}"
    );
    let service = &of("Service")["spec"];
    assert_eq!(service["type"], "LoadBalancer");
    assert_eq!(service["externalTrafficPolicy"], "Local", "clients' addresses reach allowlists and limits");
    // The routed service takes traffic from the gateway's pods only.
    let api = &out.files.iter().find(|f| f.path == "kubernetes/service-api.yaml").unwrap().contents;
    let policy = api.split("\n---\n").find(|d| d.contains("kind: NetworkPolicy")).unwrap();
    assert!(policy.contains("app.kubernetes.io/name: edge"), "{policy}");
    assert!(!policy.contains("namespaceSelector: {}"), "{policy}");
}

#[test]
fn with_the_gateway_compose_runs_berth_edge_with_the_spec_and_its_secrets() {
    let text = format!("{AUTH_SPEC}targets:\n  compose:\n    gateway: true\n");
    let plan = plan_of(&text);
    let out = berth_render::render(&plan, &text, &[Target::Compose]);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    let file = |path: &str| &out.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path}")).contents;
    assert_eq!(file("compose/berth.yaml"), &text, "the edge reads the very spec");
    assert!(!out.files.iter().any(|f| f.path.starts_with("compose/nginx/")), "no nginx beside the gateway");
    let compose: serde_json::Value = serde_saphyr::from_str(file("compose/compose.yaml")).unwrap();
    let edge = &compose["services"]["edge"];
    assert_eq!(edge["image"], berth_render::BERTH_IMAGE);
    assert_eq!(edge["command"][0], "edge");
    assert!(edge["command"].as_array().unwrap().iter().any(|a| a == "/run/secrets"), "{edge}");
    assert_eq!(edge["secrets"], serde_json::json!(["ci-key"]));
    assert_eq!(compose["secrets"]["ci-key"]["file"], "./secrets/ci-key");
    assert_eq!(edge["volumes"][0], "./berth.yaml:/etc/berth/berth.yaml:ro");
}

const EGRESS_SPEC: &str = r#"
version: 1
name: shop
services:
  api:
    image: ghcr.io/acme/api:1.0.0
    ports: { http: 8080 }
    egress:
      - { to: 10.20.0.0/16, ports: [5432, 5432] }
      - { to: 203.0.113.7, ports: [443] }
"#;

/// An egress allowlist is a security feature: where a target cannot hold
/// traffic to exactly those networks and ports, it refuses (R002) and
/// names the entry; only Kubernetes' NetworkPolicy holds networks, and no
/// target holds host names.
#[test]
fn egress_is_enforced_or_refused() {
    let plan = plan_of(EGRESS_SPEC);
    for target in [Target::Kubernetes, Target::Helm] {
        let out = berth_render::render(&plan, EGRESS_SPEC, &[target]);
        assert!(!out.has_errors(), "{target}: {:?}", out.diagnostics);
    }
    let policy = berth_render::render(&plan, EGRESS_SPEC, &[Target::Kubernetes]);
    let text = &policy.files.iter().find(|f| f.path == "kubernetes/service-api.yaml").unwrap().contents;
    assert!(text.contains("cidr: 10.20.0.0/16") && text.contains("cidr: 203.0.113.7/32"), "{text}");
    for target in [Target::Compose, Target::Systemd, Target::Ecs, Target::Cloudformation, Target::Cloudrun] {
        let out = berth_render::render(&plan, EGRESS_SPEC, &[target]);
        let error = out.diagnostics.iter().find(|d| d.is_error()).unwrap_or_else(|| panic!("{target} rendered open"));
        assert_eq!(error.code.id, "R002");
        assert!(error.message.contains("`10.20.0.0/16` (service `api`)"), "{}", error.message);
    }
    let hosts = EGRESS_SPEC.replace("203.0.113.7", "API.Stripe.com.");
    let plan = plan_of(&hosts);
    let out = berth_render::render(&plan, &hosts, &[Target::Kubernetes]);
    let error = out.diagnostics.iter().find(|d| d.is_error()).expect("a host name is refused on Kubernetes");
    assert!(error.message.contains("`api.stripe.com`") && error.message.contains("host names"), "{}", error.message);
    assert!(error.help.as_deref().is_some_and(|h| h.contains("egress-hosts")), "{:?}", error.help);
    let accepted = format!(
        "{hosts}targets:\n  kubernetes:\n    accept_unenforced:\n      egress-hosts: the egress gateway allows it by name\n"
    );
    let plan = plan_of(&accepted);
    assert!(!berth_render::render(&plan, &accepted, &[Target::Kubernetes]).has_errors());
}

fn split_spec(split: &str, sticky: &str, ingress_class: &str) -> String {
    format!(
        "version: 1\nname: x\nservices:\n  web: {{ image: ghcr.io/a/web:1.0.0, ports: {{ http: 8080 }}{sticky} }}\n  next: {{ image: ghcr.io/a/web:1.1.0, ports: {{ http: 8081 }}{sticky} }}\n  third: {{ image: ghcr.io/a/web:1.2.0, ports: {{ http: 8082 }}{sticky} }}\nedge:\n  routes:\n    - {{ path: /app, service: web, split: [{split}] }}\ntargets:\n  kubernetes: {{ ingress_class: {ingress_class} }}\n"
    )
}

/// A route's split reaches each front that can carry it, and the others
/// say so: ingress-nginx gets a canary Ingress with the weight (one per
/// path, drawn per request, so a second split service or clients kept by
/// address are named), another controller's Ingress and Cloud Run are R001,
/// the ALB forwards to weighted target groups, and the split's service
/// admits the ingress controller on its port.
#[test]
fn a_split_route_is_carried_or_named() {
    let one = "{ service: next, weight: 10 }";
    let text = split_spec(one, "", "nginx");
    let plan = plan_of(&text);
    let out = berth_render::render(&plan, &text, &[Target::Kubernetes]);
    assert!(!out.diagnostics.iter().any(|d| d.message.contains("split")), "{:?}", out.diagnostics);
    let ingress = &out.files.iter().find(|f| f.path == "kubernetes/ingress.yaml").unwrap().contents;
    let canary = ingress.split("\n---\n").find(|d| d.contains("name: x-route-0-split")).expect(ingress);
    for line in [
        "nginx.ingress.kubernetes.io/canary: \"true\"",
        "nginx.ingress.kubernetes.io/canary-weight: \"10\"",
        "name: next",
        "path: /app",
    ] {
        assert!(canary.contains(line), "{line}:\n{canary}");
    }
    let objects = &out.files.iter().find(|f| f.path == "kubernetes/service-next.yaml").unwrap().contents;
    let policy = objects.split("\n---\n").find(|d| d.contains("kind: NetworkPolicy")).expect(objects);
    assert!(policy.contains("port: 8081"), "the split's service admits the controller:\n{policy}");

    for (text, words) in [
        (split_spec(&format!("{one}, {{ service: third, weight: 5 }}"), "", "nginx"), "to 2 services"),
        (split_spec(one, ", sticky: client-ip", "nginx"), "keep clients by address"),
        (split_spec(one, "", "traefik"), "route `split`"),
    ] {
        let plan = plan_of(&text);
        let out = berth_render::render(&plan, &text, &[Target::Kubernetes]);
        assert!(
            out.diagnostics.iter().any(|d| d.code.id == "R001" && d.message.contains(words)),
            "{words}: {:?}",
            out.diagnostics
        );
        let ingress = &out.files.iter().find(|f| f.path == "kubernetes/ingress.yaml").unwrap().contents;
        assert!(!ingress.contains("canary"), "{ingress}");
    }

    let out = berth_render::render(&plan, &text, &[Target::Cloudrun]);
    assert!(out.diagnostics.iter().any(|d| d.code.id == "R001" && d.message.contains("route `split`")));
    let out = berth_render::render(&plan, &text, &[Target::Cloudformation]);
    let template = &out.files.iter().find(|f| f.path == "cloudformation/template.yaml").unwrap().contents;
    assert!(template.contains("ForwardConfig") && template.contains("NextHttpTargetGroup"), "{template}");

    // An ALB rule weighs at most five target groups: six services are named.
    let services: String =
        (1..=5).map(|i| format!("  s{i}: {{ image: ghcr.io/a/s:1.0.0, ports: {{ http: {} }} }}\n", 8100 + i)).collect();
    let splits: Vec<String> = (1..=5).map(|i| format!("{{ service: s{i}, weight: 10 }}")).collect();
    let text = format!(
        "version: 1\nname: x\nservices:\n  web: {{ image: ghcr.io/a/web:1.0.0, ports: {{ http: 8080 }} }}\n{services}edge:\n  routes:\n    - {{ path: /, service: web, split: [{}] }}\n",
        splits.join(", ")
    );
    let plan = plan_of(&text);
    let out = berth_render::render(&plan, &text, &[Target::Cloudformation]);
    assert!(
        out.diagnostics.iter().any(|d| d.code.id == "R001" && d.message.contains("to 5 services")),
        "{:?}",
        out.diagnostics
    );
    let template = &out.files.iter().find(|f| f.path == "cloudformation/template.yaml").unwrap().contents;
    assert!(!template.contains("ForwardConfig"), "{template}");
}

/// compose's edge waits for a routed service to be healthy only where the
/// service has a check to be healthy by: `service_healthy` on a service
/// without a healthcheck stops `docker compose up` (it is not an error
/// `docker compose config` sees). A split's services and fallbacks are
/// waited for too (nginx resolves every upstream name as it starts).
#[test]
fn compose_waits_for_what_the_edge_routes_to_as_far_as_it_can_tell() {
    let text = "version: 1\nname: x\nservices:\n  web: { image: ghcr.io/a/web:1.0.0, ports: { http: 8080 }, health: { readiness: { http: /ready } } }\n  next: { image: ghcr.io/a/web:1.1.0, ports: { http: 8081 } }\n  page: { image: ghcr.io/a/page:1.0.0, ports: { http: 8090 } }\nedge:\n  routes:\n    - { path: /, service: web, split: [{ service: next, weight: 10 }], fallback: page }\n";
    let plan = plan_of(text);
    let out = berth_render::render(&plan, text, &[Target::Compose]);
    let compose: serde_json::Value =
        serde_saphyr::from_str(&out.files.iter().find(|f| f.path == "compose/compose.yaml").unwrap().contents).unwrap();
    let waits = &compose["services"]["edge"]["depends_on"];
    assert_eq!(waits["web"]["condition"], "service_healthy", "{waits}");
    assert_eq!(waits["next"]["condition"], "service_started", "{waits}");
    assert_eq!(waits["page"]["condition"], "service_started", "{waits}");
}
