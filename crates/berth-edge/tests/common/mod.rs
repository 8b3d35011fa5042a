//! What the edge's request-level tests share: a service's lenient reading
//! of a path (the reading a bypass exploits), raw HTTP/1.1 on the wire, and
//! the corpus of path tricks aimed at `/metrics`.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

pub mod nginx;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The plan of a spec the test wrote; a spec with errors fails the test.
pub fn plan(text: &str) -> berth_plan::Plan {
    let loaded = berth_spec::load(text, None);
    let spec = loaded.spec.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    berth_plan::build(&spec, None)
}

/// berth-demo serving on a loopback port in this process: its address and
/// the task to abort at the end.
pub async fn demo() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = std::sync::Arc::new(berth_demo::App::new("d"));
    (addr, tokio::spawn(berth_demo::serve(listener, app, std::future::pending())))
}

/// Every escape decoded, as a framework's router does.
pub fn decode_bytes(path: &str) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = path.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// What a lenient service makes of a path: every escape decoded, `\` as
/// `/`, `;params` dropped, slashes merged, dot segments resolved (clamped
/// at the root).
pub fn service_view(raw: &str) -> String {
    let decoded = String::from_utf8_lossy(&decode_bytes(raw)).replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment.split(';').next().unwrap_or("");
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Writes `request` as is and reads the answer until the server closes.
pub async fn raw(addr: SocketAddr, request: &str) -> Raw {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Raw { status, head: head.to_owned(), body: body.to_owned() }
}

/// Paths that a normalising service reads as `/metrics` (or that have no
/// safe reading at all). Neither the edge nor its nginx may let one reach
/// a protected `/metrics`.
pub const METRICS_BYPASSES: &[&str] = &[
    "/metrics",
    "/x/../metrics",
    "//metrics",
    "/./metrics",
    "/%6detrics",
    "/%6Detrics",
    "/%2e%2e/metrics",
    "/%2E%2E/metrics",
    "/x/%2e%2e/metrics",
    "/x/.%2e/metrics",
    "/x/%2e./metrics",
    "/%2e/metrics",
    "///metrics",
    "/metrics/",
    "//metrics//",
    "/x//../metrics",
    "/x/y/../../metrics",
    "/./././metrics",
    "/metrics;jsessionid=1",
    "/x/..;/metrics",
    "/.;/metrics",
    "/x;/../metrics",
    "/%2fmetrics",
    "/x%2f..%2fmetrics",
    "/x%2F..%2Fmetrics",
    "/x/..%2fmetrics",
    "/x\\..\\metrics",
    "/x%5c..%5cmetrics",
    "/%5cmetrics",
    "/metrics%00",
    "/metrics%3Bx",
    "/metrics%3b",
    "/metrics%3B/x",
    "/x/..%3B/metrics",
    "/.%3B/metrics",
    "/%2e%3B/metrics",
    "/x/%2e%2e%3b/metrics",
    "/metrics%00.html",
    "/../metrics",
    "/../../metrics",
    "/%2e%2e%2fmetrics",
    "/m%65trics",
    "/%6d%65%74%72%69%63%73",
    "/metric%73",
    "/metrics%2f",
    "/metrics/%2e",
    "/metrics/.",
    "/metrics/x/..",
    "/x/../../metrics",
];
