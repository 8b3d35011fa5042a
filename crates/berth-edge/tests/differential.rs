//! berth's edge against the nginx that berth renders from the same spec:
//! the same raw HTTP/1.1 bytes go to both, both in front of the same
//! services on loopback, and what each answered and what the services saw
//! are compared. This is how the nginx target is held to the edge's
//! security behaviour.
//!
//! The services *normalise* paths as web frameworks do (as in
//! `tests/attack.rs`): `web` answers `SECRET` on the allowlisted prefixes,
//! `docs` (behind the `strip_prefix` route) never does. Per request:
//!
//! - security: a protected path is reached only where the request comes
//!   from an allowed client (a trusted proxy vouching for `10.1.2.3`), and
//!   a request for a host the edge does not serve is never forwarded; never
//!   excused by a known difference;
//! - forwarding: where both forward, the service sees the same service,
//!   path, `X-Forwarded-For`, `X-Real-IP` and `Host`;
//! - status: equal, or both refusals (400, 403, 404, 421, 444, or a closed
//!   connection).
//!
//! Where the two legitimately differ, [`KNOWN`] says so, one reason each;
//! any other difference fails, and so does a known one no longer seen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use std::fmt::Write as _;
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig, EdgeHandle};
use berth_plan::Plan;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use common::nginx::Nginx;
use common::{METRICS_BYPASSES, Raw, decode_bytes, raw, service_view};

/// Plain HTTP only: the rewrite below puts nginx on a loopback port.
fn spec(trusted_proxies: bool) -> String {
    let trusted = if trusted_proxies { "  trusted_proxies: [127.0.0.1]\n" } else { "" };
    format!(
        r#"
version: 1
name: differential
services:
  web:
    run: {{ command: ["unused"] }}
    ports: {{ http: 8080 }}
  docs:
    run: {{ command: ["unused"] }}
    ports: {{ http: 8081 }}
edge:
  hosts: [localhost]
{trusted}  routes:
    - {{ path: /, service: web }}
    - {{ path: /metrics, service: web, allow: [10.0.0.0/8] }}
    - {{ path: /admin, service: web, allow: [10.0.0.0/8] }}
    - {{ path: /internal, service: web, host: localhost, allow: [10.0.0.0/8] }}
    - {{ path: /docs, service: docs, strip_prefix: true }}
"#
    )
}

/// The allowlisted route prefixes; `web` answers `SECRET` under them.
const PROTECTED: &[&str] = &["/metrics", "/admin", "/internal"];

// ---------------------------------------------------------------------------
// The services

/// A normalising service named `name` that tells what it saw in `x-seen-*`
/// headers; `web` answers `SECRET` on [`PROTECTED`] prefixes.
async fn service(name: &'static str) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| async move {
                    let raw = req.uri().path().to_owned();
                    let view = service_view(&raw);
                    let protected = name == "web"
                        && PROTECTED
                            .iter()
                            .any(|p| view == *p || view.strip_prefix(p).is_some_and(|r| r.starts_with('/')));
                    let seen = |header: &str| {
                        req.headers()
                            .get_all(header)
                            .iter()
                            .map(|v| v.to_str().unwrap_or("?"))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    };
                    let text = if protected { format!("SECRET {view}") } else { format!("public {view}") };
                    let response = Response::builder()
                        .header("x-seen-service", name)
                        .header("x-seen-path", raw)
                        .header("x-seen-xff", seen("x-forwarded-for"))
                        .header("x-seen-real-ip", seen("x-real-ip"))
                        .header("x-seen-host", seen("host"))
                        .body(Full::new(Bytes::from(text)))
                        .unwrap();
                    Ok::<_, std::convert::Infallible>(response)
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, task)
}

// ---------------------------------------------------------------------------
// The two proxies

async fn start_edge(plan: &Plan, web: SocketAddr, docs: SocketAddr) -> EdgeHandle {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let inputs = Inputs {
        http: any,
        https: None,
        admin: None,
        tls: None,
        replicas: &|service, _| if service == "docs" { vec![docs] } else { vec![web] },
        secret: &|_| None,
        file: &|_| None,
    };
    let config = EdgeConfig::from_plan(plan, plan.edge.as_ref().unwrap(), &inputs).unwrap();
    Edge::start(config, None).await.unwrap()
}

/// The nginx.conf berth renders for `plan`; it may leave nothing out.
fn render_nginx(plan: &Plan, text: &str) -> String {
    let out = berth_render::render(plan, text, &[berth_render::Target::Nginx]);
    for d in &out.diagnostics {
        assert!(
            d.severity == berth_diagnostics::Severity::Info,
            "the nginx target left out something this test relies on: {}",
            d.message
        );
    }
    let names: Vec<&str> = out.files.iter().map(|f| f.path.as_str()).collect();
    let conf = out.files.iter().find(|f| f.path == "nginx/nginx.conf");
    conf.unwrap_or_else(|| panic!("no nginx/nginx.conf among {names:?}")).contents.clone()
}

// ---------------------------------------------------------------------------
// Raw requests

fn get(path: &str, headers: &[&str]) -> String {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request
}

/// The path of the request line's target (absolute-form included), no query.
fn target_path(request: &str) -> &str {
    let target = request.split(' ').nth(1).unwrap_or("");
    let target = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    target.split('?').next().unwrap_or(target)
}

/// Besides `common::METRICS_BYPASSES`: an encoded `;`, which the service decodes and then
/// reads as the start of path parameters.
const ENCODED_SEMICOLONS: &[&str] = &[
    "/metrics%3Bx",
    "/metrics%3B",
    "/metrics%3b/x",
    "/x/..%3B/metrics",
    "/.%3B/metrics",
    "/%2e%3B/metrics",
    "/x/%2e%2e%3b/metrics",
];

/// Not attacks: both may forward or refuse, but must agree.
const OTHER_PATHS: &[&str] = &[
    "/",
    "/x",
    "/files/a%20b%3F?q=%2e%2e/x",
    "/a?b=/../metrics",
    "/x/../y",
    "/x/..",
    "/x/.",
    "/%7Euser",
    "/a%2Db",
    "/caf%C3%A9",
    "/bad%C3",
    "/a%2fb",
    "/a%5cb",
    "/METRICS",
    "/x%3Bjsessionid",
    "/metricsx",
    "/metrics.json",
    "/metrics%20",
    "/adminx",
    "/docs",
    "/docs/",
    "/docs/x",
    "/docs/x/../y",
    "/docs//x",
    "/docs/metrics",
    "/docs;x/y",
    "/docsx",
    "/docs%2fx",
    "/docs/../metrics",
    "/docs/%2e%2e/metrics",
];

#[derive(Debug)]
struct Case {
    name: String,
    request: String,
    /// A trusted proxy's `X-Forwarded-For` names an allowlisted client, so
    /// a protected path may be reached when `trusted_proxies` is set.
    vouched: bool,
    /// The request names no host the edge serves: never forwarded.
    unserved_host: bool,
}

fn cases() -> Vec<Case> {
    let case = |name: &str, request: String, vouched: bool, unserved_host: bool| Case {
        name: name.to_owned(),
        request,
        vouched,
        unserved_host,
    };
    let mut paths: Vec<String> = Vec::new();
    for p in METRICS_BYPASSES.iter().chain(ENCODED_SEMICOLONS) {
        for path in [(*p).to_owned(), p.replace("metrics", "admin"), p.replace("metrics", "internal")] {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    paths.extend(OTHER_PATHS.iter().map(|p| (*p).to_owned()));
    let mut cases: Vec<Case> = paths.iter().map(|p| case(p, get(p, &[]), false, false)).collect();

    let host = |host: &str, path: &str| format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let hosts = [
        ("Host: evil.example", host("evil.example", "/"), true),
        ("Host: evil.example, /metrics", host("evil.example", "/metrics"), true),
        ("Host: evil.example, /internal", host("evil.example", "/internal"), true),
        ("Host: localhost.evil.example", host("localhost.evil.example", "/"), true),
        ("Host: 127.0.0.1", host("127.0.0.1", "/"), true),
        ("Host: user@localhost", host("user@localhost", "/"), true),
        ("Host: (empty)", host("", "/"), true),
        ("Host: LOCALHOST.", host("LOCALHOST.", "/"), false),
        ("Host: localhost:1234", host("localhost:1234", "/"), false),
        ("no Host", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned(), true),
        (
            "two Host headers",
            "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n".to_owned(),
            true,
        ),
        (
            "two Host headers, both localhost",
            "GET / HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_owned(),
            false,
        ),
        (
            "absolute-form for another host",
            "GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_owned(),
            true,
        ),
        (
            "absolute-form for localhost, Host another",
            "GET http://localhost/x/../y HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n".to_owned(),
            false,
        ),
        (
            "absolute-form to a protected path",
            "GET http://localhost/x/../metrics HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n".to_owned(),
            false,
        ),
        ("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n".to_owned(), true),
        ("HTTP/1.0 without Host, protected path", "GET /x/../metrics HTTP/1.0\r\n\r\n".to_owned(), true),
    ];
    cases.extend(hosts.into_iter().map(|(name, request, unserved)| case(name, request, false, unserved)));

    let forwarded: &[(&str, &str, &[&str], bool)] = &[
        ("forged X-Forwarded-For and X-Real-IP", "/", &["X-Forwarded-For: 10.1.2.3", "X-Real-IP: 10.1.2.3"], true),
        ("X-Forwarded-For names an allowed client", "/metrics", &["X-Forwarded-For: 10.1.2.3"], true),
        ("X-Forwarded-For names an allowed client", "/x/../admin", &["X-Forwarded-For: 10.1.2.3"], true),
        ("chain ending in an allowed client", "/metrics", &["X-Forwarded-For: 192.0.2.7, 10.1.2.3"], true),
        ("chain ending in an allowed client", "/", &["X-Forwarded-For: 192.0.2.7, 10.1.2.3"], true),
        ("chain without spaces", "/metrics", &["X-Forwarded-For: 192.0.2.7,10.1.2.3"], true),
        ("chain without spaces", "/", &["X-Forwarded-For: 192.0.2.7,10.1.2.3"], true),
        ("allowed client behind an untrusted hop", "/metrics", &["X-Forwarded-For: 10.1.2.3, 192.0.2.7"], false),
        ("unreadable nearest hop", "/metrics", &["X-Forwarded-For: 10.1.2.3, garbage"], false),
        ("unreadable nearest hop", "/", &["X-Forwarded-For: 10.1.2.3, garbage"], false),
        ("two X-Forwarded-For headers", "/metrics", &["X-Forwarded-For: 192.0.2.7", "X-Forwarded-For: 10.1.2.3"], true),
        ("two X-Forwarded-For headers", "/", &["X-Forwarded-For: 192.0.2.7", "X-Forwarded-For: 10.1.2.3"], true),
        ("only trusted hops", "/metrics", &["X-Forwarded-For: 127.0.0.1"], false),
        ("only trusted hops", "/", &["X-Forwarded-For: 127.0.0.1"], false),
        ("a hop with a port", "/metrics", &["X-Forwarded-For: 10.1.2.3:4444"], true),
        ("a hop with a port", "/", &["X-Forwarded-For: 10.1.2.3:4444"], true),
        ("IPv4-mapped IPv6 hop", "/metrics", &["X-Forwarded-For: ::ffff:10.1.2.3"], true),
        ("empty X-Forwarded-For", "/", &["X-Forwarded-For: "], false),
    ];
    for (name, path, headers, vouched) in forwarded {
        cases.push(case(&format!("{name}: {path}"), get(path, headers), *vouched, false));
    }
    cases
}

// ---------------------------------------------------------------------------
// Comparison

/// What the service saw of a forwarded request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    service: String,
    path: String,
    forwarded_for: String,
    real_ip: String,
    host: String,
}

/// What one proxy answered, and what the service saw if it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    status: u16,
    secret: bool,
    seen: Option<Seen>,
}

impl Outcome {
    fn of(r: &Raw) -> Self {
        let seen = r.header("x-seen-service").map(|service| Seen {
            service: service.to_owned(),
            path: r.header("x-seen-path").unwrap_or("").to_owned(),
            forwarded_for: r.header("x-seen-xff").unwrap_or("").to_owned(),
            real_ip: r.header("x-seen-real-ip").unwrap_or("").to_owned(),
            host: r.header("x-seen-host").unwrap_or("").to_owned(),
        });
        Self { status: r.status, secret: r.body.contains("SECRET"), seen }
    }

    fn brief(&self) -> String {
        match &self.seen {
            None => format!("{} (not forwarded)", self.status),
            Some(s) => format!(
                "{} from `{}`{}: path {:?}, X-Forwarded-For {:?}, X-Real-IP {:?}, Host {:?}",
                self.status,
                s.service,
                if self.secret { " with SECRET" } else { "" },
                s.path,
                s.forwarded_for,
                s.real_ip,
                s.host
            ),
        }
    }
}

/// Both refused, whichever codes say it; 0 is a connection closed without
/// an answer (nginx's 444).
fn both_refused(a: u16, b: u16) -> bool {
    let refused = |status: u16| matches!(status, 0 | 400 | 403 | 404 | 421 | 444);
    refused(a) && refused(b)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One reached a protected path, the other not, for a client allowed there.
    Secret,
    Status,
    Service,
    Path,
    ForwardedFor,
    RealIp,
    Host,
}

/// A legitimate difference: which kinds it explains, why, and when it applies
/// (given the case, berth's outcome and nginx's).
struct Known {
    kinds: &'static [Kind],
    why: &'static str,
    applies: fn(&Case, &Outcome, &Outcome) -> bool,
}

const KNOWN: &[Known] = &[
    Known {
        kinds: &[Kind::Path],
        why: "nginx passes the target as the client sent it (`proxy_pass` without a URI), berth the normal \
              form it routed on; the service reads both as the same path",
        applies: raw_target_forwarded,
    },
    Known {
        kinds: &[Kind::Status],
        why: "berth refuses a path with no single reading (an encoded `/` or `\\`, escapes that are not \
              UTF-8) with 400; nginx decodes `%2F` for matching, passes the rest on, and it reached no \
              protected path",
        applies: unreadable_path_refused_by_berth,
    },
    Known {
        kinds: &[Kind::Status],
        why: "nginx's `location /metrics` is a textual prefix that also covers `/metricsx`; berth matches \
              whole segments: nginx refuses more, never less",
        applies: textual_prefix_refused_by_nginx,
    },
    Known {
        kinds: &[Kind::ForwardedFor],
        why: "a trusted proxy's X-Forwarded-For: nginx passes it as sent before the peer, berth re-joins \
              its hops with `, `; the same hops",
        applies: same_hops,
    },
    Known {
        kinds: &[Kind::Secret, Kind::Status, Kind::RealIp],
        why: "a trusted proxy's hop with a port (`10.1.2.3:4444`): nginx's realip reads the address, berth \
              stops believing at a hop that is not a bare address (it refuses more, never less)",
        applies: hop_with_port_not_believed_by_berth,
    },
    Known {
        kinds: &[Kind::Service, Kind::Path],
        why: "`;` right after a strip_prefix route's prefix (`/docs;x/y`): berth counts it as that route's \
              (so the route's allowlist and auth apply) and passes on `/;x/y`; nginx's `location /docs/` \
              does not match, and the catch-all serves it; neither reaches a protected path",
        applies: parameter_after_stripped_prefix,
    },
];

fn parameter_after_stripped_prefix(case: &Case, b: &Outcome, n: &Outcome) -> bool {
    let path = target_path(&case.request);
    path.starts_with("/docs;") && !b.secret && !n.secret && b.status == 200 && n.status == 200
}

fn raw_target_forwarded(case: &Case, b: &Outcome, n: &Outcome) -> bool {
    let (Some(berth), Some(nginx)) = (&b.seen, &n.seen) else { return false };
    let target = target_path(&case.request);
    nginx.path == target
        && berth_edge::path::normalize(target).is_ok_and(|p| p == berth.path.as_str())
        && service_view(&berth.path) == service_view(&nginx.path)
}

fn unreadable_path_refused_by_berth(case: &Case, b: &Outcome, n: &Outcome) -> bool {
    let path = target_path(&case.request);
    let lower = path.to_ascii_lowercase();
    let unreadable =
        lower.contains("%2f") || lower.contains("%5c") || std::str::from_utf8(&decode_bytes(path)).is_err();
    unreadable && b.status == 400 && b.seen.is_none() && n.seen.is_some() && !n.secret
}

fn textual_prefix_refused_by_nginx(_: &Case, b: &Outcome, n: &Outcome) -> bool {
    let Some(berth) = &b.seen else { return false };
    let extends =
        |p: &&str| berth.path.strip_prefix(*p).is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', ';']));
    n.status == 403 && n.seen.is_none() && !b.secret && PROTECTED.iter().any(extends)
}

fn same_hops(_: &Case, b: &Outcome, n: &Outcome) -> bool {
    let hops = |v: &str| v.split(',').map(|h| h.trim().to_owned()).collect::<Vec<_>>();
    match (&b.seen, &n.seen) {
        (Some(berth), Some(nginx)) => hops(&berth.forwarded_for) == hops(&nginx.forwarded_for),
        _ => false,
    }
}

fn hop_with_port_not_believed_by_berth(case: &Case, b: &Outcome, _: &Outcome) -> bool {
    let with_port = case
        .request
        .lines()
        .filter_map(|l| l.strip_prefix("X-Forwarded-For:"))
        .flat_map(|v| v.split(','))
        .any(|hop| hop.trim().parse::<SocketAddr>().is_ok());
    with_port && !b.secret
}

struct Report {
    security: Vec<String>,
    hosts: Vec<String>,
    differences: Vec<String>,
    used: Vec<bool>,
}

impl Report {
    fn new() -> Self {
        Self { security: Vec::new(), hosts: Vec::new(), differences: Vec::new(), used: vec![false; KNOWN.len()] }
    }

    fn compare(&mut self, trusted: bool, case: &Case, b: &Outcome, n: &Outcome) {
        let at = format!(
            "[{}] {:?}",
            if trusted { "trusted_proxies: [127.0.0.1]" } else { "no trusted_proxies" },
            case.name
        );
        let before = self.security.len() + self.hosts.len();
        // Security is absolute, and no known difference excuses it.
        let allowed_client = trusted && case.vouched;
        for (who, o) in [("berth", b), ("nginx", n)] {
            if o.secret && !allowed_client {
                self.security.push(format!("{at}: {who} let it reach a protected path: {}", o.brief()));
            }
            if case.unserved_host && o.seen.is_some() {
                self.hosts.push(format!("{at}: {who} forwarded it: {}", o.brief()));
            }
        }
        if self.security.len() + self.hosts.len() > before {
            return;
        }
        let mut found = Vec::new();
        if allowed_client && b.secret != n.secret {
            found.push(Kind::Secret);
        }
        if b.status != n.status && !both_refused(b.status, n.status) {
            found.push(Kind::Status);
        }
        if let (Some(x), Some(y)) = (&b.seen, &n.seen) {
            for (kind, l, r) in [
                (Kind::Service, &x.service, &y.service),
                (Kind::Path, &x.path, &y.path),
                (Kind::ForwardedFor, &x.forwarded_for, &y.forwarded_for),
                (Kind::RealIp, &x.real_ip, &y.real_ip),
                (Kind::Host, &x.host, &y.host),
            ] {
                if l != r {
                    found.push(kind);
                }
            }
        }
        for kind in found {
            match KNOWN.iter().position(|k| k.kinds.contains(&kind) && (k.applies)(case, b, n)) {
                Some(i) => self.used[i] = true,
                None => self.differences.push(format!(
                    "{at}: {kind:?} differs\n      berth: {}\n      nginx: {}",
                    b.brief(),
                    n.brief()
                )),
            }
        }
    }

    /// Everything that went wrong, or nothing.
    fn finish(self) -> String {
        let stale: Vec<String> = KNOWN
            .iter()
            .zip(&self.used)
            .filter(|(_, used)| !**used)
            .map(|(k, _)| format!("{:?}: {}", k.kinds, k.why))
            .collect();
        let mut text = String::new();
        for (title, items) in [
            ("SECURITY: a protected path reached by a client that is not allowed there", &self.security),
            ("HOST: a request for a host the edge does not serve was forwarded", &self.hosts),
            ("DIFFERENCES not in KNOWN", &self.differences),
            ("KNOWN differences no longer seen (remove them)", &stale),
        ] {
            if !items.is_empty() {
                let _ = writeln!(text, "\n{title} ({}):", items.len());
                for item in items {
                    let _ = writeln!(text, "  {item}");
                }
            }
        }
        text
    }
}

#[tokio::test]
async fn berth_and_the_nginx_it_renders_agree() {
    let (web, web_task) = service("web").await;
    let (docs, docs_task) = service("docs").await;
    let cases = cases();
    let mut report = Report::new();
    for trusted in [false, true] {
        let text = spec(trusted);
        let plan = common::plan(&text);
        let nginx = Nginx::start(&render_nginx(&plan, &text), &|upstream| match upstream {
            "web_http" => web,
            "docs_http" => docs,
            other => panic!("an upstream this test does not know: {other}"),
        })
        .await;
        let edge = start_edge(&plan, web, docs).await;
        for case in &cases {
            let b = Outcome::of(&raw(edge.http, &case.request).await);
            let n = Outcome::of(&raw(nginx.addr, &case.request).await);
            report.compare(trusted, case, &b, &n);
        }
        edge.shutdown(Duration::from_secs(1)).await;
        drop(nginx);
    }
    web_task.abort();
    docs_task.abort();
    let failures = report.finish();
    assert!(failures.is_empty(), "berth's edge and its nginx.conf disagree:\n{failures}");
}
