//! The admin listener's status page: one self-contained HTML document (no
//! scripts, fonts or stylesheets from elsewhere) and the same facts as JSON.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::proxy::State;
use crate::upstream::Backend;

/// One backend as the page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaRow {
    pub service: String,
    pub address: String,
    /// primary, canary or fallback
    pub role: &'static str,
    pub healthy: bool,
    pub version: Option<String>,
    pub in_flight: usize,
    pub requests: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteRow {
    pub host: Option<String>,
    pub path: String,
    pub service: String,
    pub requests_per_second: f64,
    pub errors_per_second: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub project: String,
    pub replicas: Vec<ReplicaRow>,
    pub routes: Vec<RouteRow>,
}

impl Status {
    pub fn collect(state: &State, now: Instant) -> Self {
        let mut replicas: Vec<ReplicaRow> = Vec::new();
        let mut seen: Vec<Arc<Backend>> = Vec::new();
        for (index, route) in state.config.routes.iter().enumerate() {
            let pool = state.pool(index);
            let mut sets: Vec<(&str, &[Arc<Backend>], &str)> = Vec::new();
            for share in &pool.shares {
                sets.push((&share.service, &share.primaries, "primary"));
                sets.push((&share.service, &share.canary, "canary"));
            }
            sets.push((route.fallback_service.as_deref().unwrap_or(route.service()), &pool.fallbacks, "fallback"));
            for (service, set, role) in sets {
                for b in set {
                    if seen.iter().any(|s| Arc::ptr_eq(s, b)) {
                        continue;
                    }
                    seen.push(b.clone());
                    replicas.push(ReplicaRow {
                        service: service.to_owned(),
                        address: b.addr.to_string(),
                        role,
                        healthy: b.is_healthy(),
                        version: b.version(),
                        in_flight: b.in_flight(),
                        requests: b.requests.load(Ordering::Relaxed),
                        errors: b.errors.load(Ordering::Relaxed),
                    });
                }
            }
        }
        replicas.sort_by(|a, b| (&a.service, a.role, &a.address).cmp(&(&b.service, b.role, &b.address)));
        let rates = state.metrics.rates(now);
        let routes = state
            .config
            .routes
            .iter()
            .zip(rates)
            .map(|(r, (requests, errors))| RouteRow {
                host: r.host.clone(),
                path: r.path.clone(),
                // A split route names each service with its share.
                service: match r.shares.as_slice() {
                    [one] => one.service.clone(),
                    shares => {
                        let rest = 100 - shares.iter().skip(1).map(|s| s.weight).sum::<usize>().min(100);
                        shares
                            .iter()
                            .enumerate()
                            .map(|(i, s)| format!("{} {}%", s.service, if i == 0 { rest } else { s.weight }))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                },
                requests_per_second: requests,
                errors_per_second: errors,
            })
            .collect();
        Self { project: state.config.name.clone(), replicas, routes }
    }

    pub fn html(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let title = escape(&self.project);
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta http-equiv=\"refresh\" content=\"5\"><title>{title} · berth</title><style>{STYLE}</style></head>\n\
             <body><header><h1>{title}</h1><p>berth edge status, refreshed every 5 s</p></header>\n"
        );
        let mut services: Vec<&str> = self.replicas.iter().map(|r| r.service.as_str()).collect();
        services.dedup();
        out.push_str("<section><h2>Services</h2>\n");
        for service in services {
            let rows: Vec<&ReplicaRow> = self.replicas.iter().filter(|r| r.service == service).collect();
            let healthy = rows.iter().filter(|r| r.healthy).count();
            let class = if healthy == rows.len() {
                "ok"
            } else if healthy == 0 {
                "down"
            } else {
                "warn"
            };
            let _ = write!(
                out,
                "<article class=\"service\" id=\"service-{id}\"><h3><span class=\"dot {class}\"></span>{name} \
                 <small>{healthy}/{total} healthy</small></h3>\n<table><thead><tr><th>Replica</th><th>Role</th>\
                 <th>Health</th><th>Version</th><th class=\"n\">In flight</th><th class=\"n\">Requests</th>\
                 <th class=\"n\">Errors</th></tr></thead><tbody>\n",
                id = escape(service),
                name = escape(service),
                total = rows.len(),
            );
            for r in rows {
                let _ = writeln!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td><td class=\"{}\">{}</td><td>{}</td>\
                     <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    escape(&r.address),
                    r.role,
                    if r.healthy { "ok" } else { "down" },
                    if r.healthy { "healthy" } else { "unhealthy" },
                    r.version.as_deref().map_or_else(|| "–".to_owned(), escape),
                    r.in_flight,
                    r.requests,
                    r.errors
                );
            }
            out.push_str("</tbody></table></article>\n");
        }
        out.push_str(
            "</section>\n<section><h2>Routes</h2>\n<table id=\"routes\"><thead><tr><th>Host</th><th>Path</th>\
             <th>Service</th><th class=\"n\">Requests/s</th><th class=\"n\">Errors/s</th><th class=\"n\">Error rate</th>\
             </tr></thead><tbody>\n",
        );
        for r in &self.routes {
            let error_rate =
                if r.requests_per_second > 0.0 { 100.0 * r.errors_per_second / r.requests_per_second } else { 0.0 };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"n\">{:.2}</td><td class=\"n\">{:.2}</td>\
                 <td class=\"n {}\">{:.1}%</td></tr>",
                r.host.as_deref().map_or_else(|| "*".to_owned(), escape),
                escape(&r.path),
                escape(&r.service),
                r.requests_per_second,
                r.errors_per_second,
                if error_rate >= 1.0 { "down" } else { "ok" },
                error_rate
            );
        }
        out.push_str(
            "</tbody></table><p class=\"note\">Rates over the last minute. Raw numbers: \
             <a href=\"/metrics\">/metrics</a>, <a href=\"/status.json\">/status.json</a>.</p></section>\n\
             </body></html>\n",
        );
        out
    }
}

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#59636e;--line:#d1d9e0;--ok:#1a7f37;--warn:#9a6700;--down:#cf222e}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#3d444d;--ok:#3fb950;--warn:#d29922;--down:#f85149}}\
body{font:14px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:70rem;padding:1.5rem}\
h1{margin:0;font-size:1.6rem}header p,.note,small{color:var(--muted);font-weight:normal}\
h2{border-bottom:1px solid var(--line);padding-bottom:.3rem;margin-top:2rem}h3{margin:1rem 0 .4rem}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line)}\
th{color:var(--muted);font-weight:600}.n{text-align:right;font-variant-numeric:tabular-nums}\
td.ok{color:var(--ok)}td.down{color:var(--down);font-weight:600}\
.dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;margin-right:.5rem;vertical-align:middle}\
.dot.ok{background:var(--ok)}.dot.warn{background:var(--warn)}.dot.down{background:var(--down)}";

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_escapes_what_it_shows() {
        let status = Status {
            project: "<script>".into(),
            replicas: vec![ReplicaRow {
                service: "web".into(),
                address: "127.0.0.1:1".into(),
                role: "primary",
                healthy: false,
                version: Some("1.0\"".into()),
                in_flight: 0,
                requests: 3,
                errors: 1,
            }],
            routes: vec![],
        };
        let html = status.html();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("1.0&quot;"));
        assert!(html.contains("0/1 healthy"));
        assert!(!html.contains("http://") && !html.contains("https://"), "no external assets");
    }
}
