#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
//! A side listener a command opens (`berth edge --admin 127.0.0.1:9180`, a
//! status or metrics port) answers health checks where it is reachable: a
//! compose healthcheck runs inside the container, so loopback counts; a
//! kubelet probe comes from outside the pod, so only a wider bind does.

use std::path::Path;

use berth_check::{Input, check};

fn x008(inputs: Vec<Input>) -> Vec<String> {
    let report = check(inputs, None);
    report.findings.iter().filter(|f| f.diagnostic.code.id == "X008").map(|f| f.diagnostic.message.clone()).collect()
}

#[test]
fn a_compose_healthcheck_may_ask_a_loopback_side_listener() {
    let compose = "services:\n  edge:\n    image: ghcr.io/acme/edge:3.2.0\n    \
                   command: [edge, /etc/edge.yaml, --admin, \"127.0.0.1:9180\"]\n    ports: [\"127.0.0.1:80:80\"]\n    \
                   healthcheck:\n      test: [CMD, curl, -fsS, \"http://127.0.0.1:9180/status.json\"]\n";
    assert_eq!(x008(vec![Input { path: "docker-compose.yml".into(), text: compose.into() }]), Vec::<String>::new());
    let elsewhere = compose.replace("9180/status", "9181/status");
    assert_eq!(x008(vec![Input { path: "docker-compose.yml".into(), text: elsewhere }]).len(), 1);
}

#[test]
fn a_kubelet_probe_reaches_a_side_listener_only_beyond_loopback() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/X008/good/deploy.yaml");
    let good = std::fs::read_to_string(path).unwrap();
    let with_admin = |host: &str| {
        let args = format!("          args: [edge, --admin, \"{host}:9180\"]\n          ports:\n");
        let text = good
            .replacen("          ports:\n", &args, 1)
            .replace("httpGet: { path: /health/ready, port: http }", "httpGet: { path: /status.json, port: 9180 }");
        vec![Input { path: "deploy.yaml".into(), text }]
    };
    assert_eq!(x008(with_admin("0.0.0.0")), Vec::<String>::new());
    let loopback = x008(with_admin("127.0.0.1"));
    assert_eq!(loopback, ["readinessProbe of `web`: port 9180, but it listens on 8080"]);
}
