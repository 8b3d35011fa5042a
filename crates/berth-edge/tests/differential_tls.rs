//! TLS and the redirect to HTTPS through berth's edge and through the nginx
//! berth renders from the same spec, in front of the same berth-demo on
//! loopback: plain HTTP is redirected to the same HTTPS URL, HTTPS answers
//! with the same statuses and security headers (HSTS included), the TLS
//! minimum refuses older clients on both, host-specific routes and unknown
//! hosts agree over HTTPS, and a TLS name the spec does not serve gets no
//! handshake on either. Requests go through curl, a real TLS client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig};
use common::nginx::{Nginx, Tls};

const SPEC: &str = r#"
version: 1
name: tls
services:
  web:
    run: { command: ["unused"] }
    ports: { http: 8080 }
edge:
  hosts: [localhost, api.localhost]
  tls: { mode: files, cert: tls.crt, key: tls.key, min_version: "1.3" }
  headers: { content_security_policy: "default-src 'none'", frame_options: SAMEORIGIN }
  routes:
    - { path: /version, service: web, host: api.localhost, allow: [10.0.0.0/8] }
    - { path: /, service: web }
"#;

const HEADERS: &[&str] = &[
    "strict-transport-security",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "content-security-policy",
];

/// What curl saw: the status (0 when no HTTP answer, such as a refused
/// handshake), the response head in lower case, and curl's exit code.
#[derive(Debug)]
struct Seen {
    status: u16,
    head: String,
    exit: i32,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n.trim() == name).then(|| v.trim())
        })
    }
}

/// `url` names a host; it is sent to `addr`, with that host as the TLS
/// name (SNI) and the Host header unless `host` overrides the header.
fn curl(addr: SocketAddr, url: &str, extra: &[&str]) -> Seen {
    let name = url.split("://").nth(1).and_then(|r| r.split(['/', ':']).next()).unwrap();
    let port = if url.starts_with("https") { 443 } else { 80 };
    let out = berth_test_support::command(&berth_test_support::tool("curl").to_string_lossy())
        .args(["-sk", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "--max-time", "5"])
        .args(["--connect-to", &format!("{name}:{port}:{}:{}", addr.ip(), addr.port())])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl is a test dependency");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let status = text.lines().last().unwrap_or("0").trim().parse().unwrap_or(0);
    Seen { status, head: text, exit: out.status.code().unwrap_or(-1) }
}

struct Case {
    name: &'static str,
    url: &'static str,
    extra: &'static [&'static str],
    status: u16,
}

fn cases() -> Vec<Case> {
    let case = |name, url, status| Case { name, url, extra: &[], status };
    vec![
        case("plain HTTP is redirected", "http://localhost/a/b?c=1", 301),
        case("plain HTTP on a host-specific route is redirected", "http://api.localhost/version", 301),
        case("HTTPS catch-all", "https://localhost/", 200),
        case("HTTPS host-specific route with an allowlist", "https://api.localhost/version", 403),
        case("HTTPS host-specific route elsewhere is the catch-all", "https://localhost/version", 200),
        Case {
            name: "HTTPS with a Host the spec does not serve",
            url: "https://localhost/",
            extra: &["-H", "Host: evil.example"],
            status: 421,
        },
        Case { name: "plain HTTP to a host not served", url: "http://evil.example/", extra: &[], status: 421 },
        Case {
            name: "TLS 1.2 against a 1.3 minimum",
            url: "https://localhost/",
            extra: &["--tls-max", "1.2"],
            status: 0,
        },
        case("a TLS name the spec does not serve", "https://evil.example/", 0),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_rendered_nginx_agree_on_tls_and_the_redirect() {
    let (demo, server) = common::demo().await;
    let plan = common::plan(SPEC);
    let pem = berth_edge::tls::self_signed(&["localhost".to_owned(), "api.localhost".to_owned()]).unwrap();
    let inputs = Inputs {
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        https: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        admin: None,
        tls: Some(pem.clone()),
        replicas: &|_, _| vec![demo],
        secret: &|_| None,
        file: &|_| None,
    };
    let edge =
        Edge::start(EdgeConfig::from_plan(&plan, plan.edge.as_ref().unwrap(), &inputs).unwrap(), None).await.unwrap();
    let edge_https = edge.https.unwrap();
    let rendered = berth_render::render(&plan, SPEC, &[berth_render::Target::Nginx]);
    for d in &rendered.diagnostics {
        assert!(d.severity == berth_diagnostics::Severity::Info, "nginx left out a feature: {}", d.message);
    }
    let conf = &rendered.files.iter().find(|f| f.path == "nginx/nginx.conf").unwrap().contents;
    let tls = Tls {
        listen: SocketAddr::from(([127, 0, 0, 1], berth_test_support::free_port())),
        cert_pem: pem.cert.clone(),
        key_pem: pem.key.clone(),
    };
    let nginx = Nginx::start_with(conf, Some(&tls), &|_| demo).await;

    let mut failures = Vec::new();
    for case in cases() {
        let https = case.url.starts_with("https");
        let (b_addr, n_addr) = if https { (edge_https, tls.listen) } else { (edge.http, nginx.addr) };
        let b = tokio::task::block_in_place(|| curl(b_addr, case.url, case.extra));
        let n = tokio::task::block_in_place(|| curl(n_addr, case.url, case.extra));
        if b.status != case.status || n.status != case.status {
            failures.push(format!(
                "{}: berth {} (curl {}) nginx {} (curl {}) (want {})",
                case.name, b.status, b.exit, n.status, n.exit, case.status
            ));
            continue;
        }
        if case.status == 0 && (b.exit == 0 || n.exit == 0) {
            failures.push(format!("{}: a handshake succeeded (curl exits {} and {})", case.name, b.exit, n.exit));
        }
        if case.status == 301 {
            // The same URL on HTTPS; berth names its test port, nginx's
            // `$host` has none (it listens on 443 in production).
            let strip = |l: Option<&str>| l.map(|l| l.replacen(&format!(":{}", edge_https.port()), "", 1));
            if strip(b.header("location")) != strip(n.header("location"))
                || !n.header("location").is_some_and(|l| l.starts_with("https://"))
            {
                failures.push(format!(
                    "{}: location berth {:?} nginx {:?}",
                    case.name,
                    b.header("location"),
                    n.header("location")
                ));
            }
        }
        // Over plain HTTP HSTS means nothing (RFC 6797 7.2); berth leaves it out.
        for header in HEADERS.iter().filter(|h| https || **h != "strict-transport-security") {
            if case.status != 0 && b.header(header) != n.header(header) {
                failures.push(format!(
                    "{}: {header}: berth {:?} nginx {:?}",
                    case.name,
                    b.header(header),
                    n.header(header)
                ));
            }
        }
        if https && case.status == 200 && b.header("strict-transport-security").is_none() {
            failures.push(format!("{}: no HSTS over HTTPS", case.name));
        }
    }
    edge.shutdown(Duration::from_secs(1)).await;
    server.abort();
    assert!(
        failures.is_empty(),
        "berth's edge and its nginx disagree:\n{}\nnginx logs:\n{}",
        failures.join("\n"),
        nginx.logs()
    );
}
