//! `berth edge`, the gateway the kubernetes and compose targets render:
//! the real binary in front of a berth-demo it reaches by name, enforcing
//! the spec's auth, allowlist, rate limit, hosts and headers, serving the
//! certificate it is given, and draining on SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests spawn the real binaries and fail loudly"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use berth_test_support::free_port;
use common::{KillOnDrop, curl};

/// berth-demo on `port`, stopped by its PID when the guard drops.
fn start_demo(port: u16) -> (std::process::Child, KillOnDrop) {
    let bin = escargot::CargoBuild::new().package("berth-demo").bin("berth-demo").run().unwrap();
    let demo = Command::new(bin.path()).env("PORT", port.to_string()).stdout(Stdio::null()).spawn().unwrap();
    let guard = KillOnDrop(demo.id());
    (demo, guard)
}

/// What `berth edge` prints up to its admin address: it is serving then.
fn banner(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> String {
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("edge: admin") {
            break;
        }
    }
    banner
}

#[test]
fn the_gateway_enforces_the_spec_in_front_of_services_found_by_name() {
    let dir = berth_test_support::temp_dir();
    let (demo_port, http, https, admin) = (free_port(), free_port(), free_port(), free_port());
    let (mut demo, _demo) = start_demo(demo_port);
    // The service's name is what the gateway resolves: `localhost` here,
    // `api` in a cluster or a compose project.
    let spec = format!(
        r#"version: 1
name: gw
services:
  localhost:
    image: ghcr.io/berth-dev/berth-demo:0.1.0
    ports: {{ http: {demo_port} }}
    health:
      readiness: {{ http: /health/ready, interval: 1s }}
secrets:
  admin-key: {{}}
edge:
  hosts: [localhost]
  listen: {{ http: {http}, https: {https}, admin: {admin} }}
  tls: {{ mode: files, cert: unused.pem, key: unused.pem }}
  headers: {{ content_security_policy: "default-src 'none'" }}
  rate_limits:
    tight: {{ rate: 1/m, burst: 1 }}
  routes:
    - {{ path: /version, service: localhost, auth: {{ accept: [api-key] }} }}
    - {{ path: /metrics, service: localhost, allow: [10.0.0.0/8] }}
    - {{ path: /api/hello, service: localhost, rate_limit: tight }}
    - {{ path: /, service: localhost }}
  auth:
    api_keys:
      - {{ name: ci, secret: admin-key }}
"#
    );
    std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();
    berth_test_support::self_signed_certificate(dir.path(), "tls.crt", "tls.key");
    // As compose mounts secrets: one file per secret, named after it.
    std::fs::create_dir(dir.path().join("run-secrets")).unwrap();
    std::fs::write(dir.path().join("run-secrets/admin-key"), "k3y-value-for-the-test\n").unwrap();
    let mut edge = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["edge", "berth.yaml", "--bind", "127.0.0.1", "--tls-cert", "tls.crt", "--tls-key", "tls.key"])
        .args(["--resolve-every", "1", "--admin", &format!("127.0.0.1:{admin}"), "--secrets-dir", "run-secrets"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stop_on_failure = KillOnDrop(edge.id());
    let mut lines = BufReader::new(edge.stdout.take().unwrap()).lines();
    let banner = banner(&mut lines);
    assert!(banner.contains(&format!("https 127.0.0.1:{https}")), "{banner}");
    let cert = dir.path().join("tls.crt");
    let base = format!("https://localhost:{https}");

    // Ready once the backend answers (the first health check).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while curl(&cert, &format!("{base}/"), &[]).0 != 200 {
        assert!(std::time::Instant::now() < deadline, "the gateway never reached berth-demo");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (code, headers) = curl(&cert, &format!("{base}/"), &[]);
    assert_eq!(code, 200);
    assert!(headers.contains("content-security-policy: default-src 'none'"), "{headers}");
    assert!(headers.contains("strict-transport-security"), "{headers}");

    assert_eq!(curl(&cert, &format!("{base}/version"), &[]).0, 401, "auth is enforced");
    assert_eq!(curl(&cert, &format!("{base}/version"), &["-H", "X-API-Key: wrong"]).0, 401);
    assert_eq!(curl(&cert, &format!("{base}/version"), &["-H", "X-API-Key: k3y-value-for-the-test"]).0, 200);
    assert_eq!(curl(&cert, &format!("{base}/metrics"), &[]).0, 403, "the allowlist is enforced");
    // One request at the rate plus a burst of one, as nginx counts.
    assert_eq!(curl(&cert, &format!("{base}/api/hello"), &[]).0, 200);
    assert_eq!(curl(&cert, &format!("{base}/api/hello"), &[]).0, 200);
    assert_eq!(curl(&cert, &format!("{base}/api/hello"), &[]).0, 429, "the rate limit is enforced");
    let (code, _) = curl(&cert, &format!("https://127.0.0.1:{https}/"), &["-H", "Host: evil.example", "-k"]);
    assert_eq!(code, 421, "hosts the spec does not name are refused");
    let (code, _) = curl(&cert, &format!("http://localhost:{http}/"), &[]);
    assert_eq!(code, 301, "plain HTTP is redirected to HTTPS");

    // The probes the rendered Deployment runs: the status page, asked with
    // a loopback host name; any other host name is refused (DNS rebinding).
    let status = format!("http://127.0.0.1:{admin}/status.json");
    assert_eq!(curl(&cert, &status, &["-H", "Host: localhost"]).0, 200);
    assert_ne!(curl(&cert, &status, &["-H", "Host: attacker.example"]).0, 200);

    // SIGTERM: stop accepting, drain, exit 0.
    assert!(Command::new("kill").args(["-TERM", &edge.id().to_string()]).status().unwrap().success());
    let status = edge.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "berth edge exits cleanly on SIGTERM: {status:?} {rest:?}");
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    demo.kill().unwrap();
    demo.wait().unwrap();
}

/// The gateway the cloudformation target renders behind an ALB: the spec
/// comes in a variable, TLS ends at the load balancer, and only the load
/// balancer's network is believed about the client's address and scheme.
/// Here the "ALB" is 127.0.0.1 and an outsider connects from 127.0.0.2.
#[test]
fn behind_a_tls_offloading_balancer_only_the_balancer_is_believed() {
    let (demo_port, http, https, admin) = (free_port(), free_port(), free_port(), free_port());
    let (mut demo, _demo) = start_demo(demo_port);
    let spec = format!(
        r#"version: 1
name: alb
services:
  localhost:
    image: ghcr.io/berth-dev/berth-demo:0.1.0
    ports: {{ http: {demo_port} }}
    health:
      readiness: {{ http: /health/ready, interval: 1s }}
edge:
  hosts: [localhost]
  listen: {{ http: {http}, https: {https}, admin: {admin} }}
  tls: {{ mode: self-signed }}
  routes:
    - {{ path: /metrics, service: localhost, allow: [10.0.0.0/8] }}
    - {{ path: /, service: localhost }}
"#
    );
    let dir = berth_test_support::temp_dir();
    let mut edge = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["edge", "--spec-env", "BERTH_SPEC", "--bind", "0.0.0.0", "--tls-offloaded"])
        .args(["--trusted-proxy", "127.0.0.1/32", "--resolve-every", "1", "--admin", &format!("0.0.0.0:{admin}")])
        .env("BERTH_SPEC", spec)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stop_on_failure = KillOnDrop(edge.id());
    let mut lines = BufReader::new(edge.stdout.take().unwrap()).lines();
    let banner = banner(&mut lines);
    assert!(!banner.contains("https"), "TLS ends at the balancer: no HTTPS listener\n{banner}");
    let unused = dir.path().join("no-cert.pem");
    let base = format!("http://127.0.0.1:{http}");
    let from_alb = |path: &str, extra: &[&str]| {
        let mut args = vec!["-H", "Host: localhost", "--interface", "127.0.0.1"];
        args.extend_from_slice(extra);
        curl(&unused, &format!("{base}{path}"), &args)
    };
    let https = ["-H", "X-Forwarded-Proto: https"];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while from_alb("/", &https).0 != 200 {
        assert!(std::time::Instant::now() < deadline, "the gateway never reached berth-demo");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (_, headers) = from_alb("/", &https);
    assert!(headers.contains("strict-transport-security"), "HTTPS at the balancer gets HSTS: {headers}");
    let (code, headers) = from_alb("/a?b=1", &["-H", "X-Forwarded-Proto: http"]);
    assert_eq!(code, 301, "HTTP at the balancer is redirected");
    assert!(headers.contains("location: https://localhost/a?b=1"), "{headers}");
    assert!(!headers.contains("strict-transport-security"), "{headers}");

    // The client's address is the balancer's last X-Forwarded-For hop; what
    // the client wrote to the left of it is not believed.
    assert_eq!(from_alb("/metrics", &["-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-For: 10.1.2.3"]).0, 200);
    assert_eq!(from_alb("/metrics", &["-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-For: 203.0.113.9"]).0, 403);
    assert_eq!(
        from_alb("/metrics", &["-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-For: 10.1.2.3, 203.0.113.9"]).0,
        403,
        "a forged hop left of the balancer's is not the client"
    );

    // Anyone else (not the balancer's network) is believed about nothing.
    let outsider = |path: &str, extra: &[&str]| {
        let mut args = vec!["-H", "Host: localhost", "--interface", "127.0.0.2"];
        args.extend_from_slice(extra);
        curl(&unused, &format!("{base}{path}"), &args)
    };
    assert_eq!(outsider("/", &https).0, 301, "an outsider's X-Forwarded-Proto is not believed");
    assert_eq!(
        outsider("/metrics", &["-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-For: 10.1.2.3"]).0,
        301,
        "nor its X-Forwarded-For"
    );

    // The balancer's health check names the task's address as the host:
    // `/health` answers it, the status page does not.
    let health = format!("http://127.0.0.1:{admin}/health");
    assert_eq!(curl(&unused, &health, &["-H", "Host: 10.0.3.7:9180"]).0, 200);
    let status = format!("http://127.0.0.1:{admin}/status.json");
    assert_eq!(curl(&unused, &status, &["-H", "Host: 10.0.3.7:9180"]).0, 421);

    assert!(Command::new("kill").args(["-TERM", &edge.id().to_string()]).status().unwrap().success());
    assert!(edge.wait().unwrap().success());
    demo.kill().unwrap();
    demo.wait().unwrap();
}
