//! nginx.conf for the edge. Security headers are repeated in every location
//! that sets its own headers (nginx drops inherited `add_header`s there),
//! `proxy_set_header`s likewise, and rate-limit zones live in `http`.

use std::fmt::Write as _;

use berth_plan::{EdgePlan, RoutePlan};
use berth_plan::{Plan, ServicePlan, replica_port};
use berth_spec::model::units::Duration;
use berth_spec::model::units::RateUnit;
use berth_spec::{RateKey, Sticky, TlsMode, TlsVersion};

use super::Target;
use crate::{Output, header};

/// Where the services are, seen from nginx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstreams {
    /// Replicas on this host, on loopback ports (the systemd target).
    Host,
    /// Services by name on a container network (the compose target).
    Network,
}

/// Modern TLS 1.2 ciphers (Mozilla intermediate); TLS 1.3 suites are fixed by OpenSSL.
const CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

pub fn render(plan: &Plan, upstreams: Upstreams) -> Output {
    let mut out = Output::default();
    let Some(edge) = &plan.edge else {
        out.unsupported(
            Target::Nginx,
            "a spec without `edge`",
            "add an `edge:` section with routes; nothing was rendered",
        );
        return out;
    };
    let conf = nginx_conf(plan, edge, upstreams, &mut out);
    out.file("nginx.conf", conf);
    out
}

pub fn upstream_name(route: &RoutePlan) -> String {
    let part = |service: &str, port: &str| format!("{}_{}", service.replace('-', "_"), port.replace('-', "_"));
    let mut name = part(&route.service, &route.port.name);
    // Weights are part of a split's name: two routes splitting between the
    // same services by other weights need two upstreams.
    if !route.split.is_empty() {
        name = format!("{name}_{}", route.weight());
    }
    for share in &route.split {
        name = format!("{name}_and_{}_{}", part(&share.service, &share.port.name), share.weight);
    }
    match &route.fallback {
        Some((fallback, _)) => format!("{name}_or_{}", fallback.replace('-', "_")),
        None => name,
    }
}

/// Each server's weight in a split route's upstream, so that each
/// service's servers together carry exactly its share: a service with
/// weight `w` and `n` servers gives each `w * L / n` (`L` the least common
/// multiple of the server counts), reduced by the weights' common divisor.
/// With the container network's DNS, one name stands for every replica
/// the plan runs, and each resolved address takes the name's weight.
fn split_weights(shares: &[(u8, usize)]) -> Vec<u64> {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let lcm = shares.iter().map(|(_, n)| (*n).max(1) as u64).fold(1, |l, n| l / gcd(l, n) * n);
    let weights: Vec<u64> = shares.iter().map(|(w, n)| u64::from(*w) * lcm / (*n).max(1) as u64).collect();
    let common = weights.iter().copied().fold(0, gcd).max(1);
    weights.into_iter().map(|w| w / common).collect()
}

fn nginx_conf(plan: &Plan, edge: &EdgePlan, upstreams: Upstreams, out: &mut Output) -> String {
    let mut c = header::comment("#", plan, "nginx");
    c.push_str(
        "worker_processes auto;\nworker_rlimit_nofile 65535;\n\nevents {\n    worker_connections 8192;\n}\n\nhttp {\n",
    );
    let t = &edge.timeouts;
    let _ = write!(
        c,
        "    include mime.types;
    default_type application/octet-stream;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;

    # Slow clients are cut off: the header and idle timeouts stop slowloris.
    client_header_timeout {header};
    client_body_timeout {send};
    send_timeout {send};
    keepalive_timeout {idle};
    large_client_header_buffers 4 8k;
    client_max_body_size {body};

    log_format main '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent '
                    '\"$http_referer\" \"$http_user_agent\" rt=$request_time urt=$upstream_response_time rid=$request_id';
    access_log {access_log} main buffer=64k flush=5s;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
",
        header = time(t.header),
        send = time(t.send),
        idle = time(t.idle),
        body = size(edge.body_limit.0),
        access_log = super::host::ACCESS_LOG,
    );
    if !edge.trusted_proxies.is_empty() {
        // As berth's edge: only a trusted proxy's X-Forwarded-For names the
        // client (the nearest untrusted hop), and only its chain is passed on.
        c.push_str("\n    # Proxies in front of the edge; their X-Forwarded-For names the client.\n");
        for entry in &edge.trusted_proxies {
            let _ = writeln!(c, "    set_real_ip_from {entry};");
        }
        c.push_str("    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n");
        c.push_str("    geo $realip_remote_addr $berth_peer_trusted {\n        default 0;\n");
        for entry in &edge.trusted_proxies {
            let _ = writeln!(c, "        {entry} 1;");
        }
        c.push_str("    }\n    map \"$berth_peer_trusted:$http_x_forwarded_for\" $berth_forwarded_for {\n        \"~^1:(?<chain>.+)$\" \"$chain, $realip_remote_addr\";\n        default $realip_remote_addr;\n    }\n");
    }
    if edge.routes.iter().any(|r| r.sticky == Some(Sticky::Cookie)) {
        // `sticky: cookie`: the key is the client's affinity cookie when it
        // is one berth could have set, else this request's id, which the
        // response then sets (random, so it names no replica).
        let _ = write!(
            c,
            "\n    map $cookie_{name} $berth_affinity_key {{\n        \"~^[A-Za-z0-9_-]{{1,64}}$\" $cookie_{name};\n        default $request_id;\n    }}\n    map $https $berth_affinity_secure {{\n        on \"; Secure\";\n        default \"\";\n    }}\n    map $cookie_{name} $berth_affinity_cookie {{\n        \"~^[A-Za-z0-9_-]{{1,64}}$\" \"\";\n        default \"{name}=$request_id; Path=/; HttpOnly; SameSite=Lax$berth_affinity_secure\";\n    }}\n",
            name = Sticky::COOKIE
        );
    }
    if edge.gzip {
        c.push_str("\n    gzip on;\n    gzip_comp_level 5;\n    gzip_min_length 1024;\n    gzip_proxied any;\n    gzip_vary on;\n    gzip_types text/plain text/css text/xml application/json application/javascript application/xml image/svg+xml;\n");
    }
    if !edge.rate_limits.is_empty() {
        c.push_str("\n    # Rate-limit zones belong to the http context; routes pick one with limit_req.\n");
        for zone in &edge.rate_limits {
            if zone.rate.per == RateUnit::Hour && !zone.rate.requests.is_multiple_of(60) {
                out.unsupported(
                    Target::Nginx,
                    format!(
                        "the rate `{}/h` of limit `{}` exactly (nginx counts per second or minute; rendered {})",
                        zone.rate.requests,
                        zone.name,
                        nginx_rate(zone.rate.requests, zone.rate.per)
                    ),
                    "write the rate per minute or second",
                );
            }
            let key = match zone.by {
                RateKey::ClientIp => "$binary_remote_addr",
                RateKey::ApiKey => "$http_x_api_key",
            };
            let _ = writeln!(
                c,
                "    limit_req_zone {key} zone={}:10m rate={};",
                zone.name,
                nginx_rate(zone.rate.requests, zone.rate.per)
            );
        }
        c.push_str("    limit_req_status 429;\n");
    }
    let services = |name: &str| plan.services.iter().find(|s| s.name == name);
    let mut seen = Vec::new();
    for route in &edge.routes {
        let name = upstream_name(route);
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let Some(service) = services(&route.service) else { continue };
        // A sticky service: the same replica for each client address
        // (`consistent`: a replica that goes away moves only its clients).
        // nginx refuses `backup` servers beside `hash`, so a fallback
        // keeps least connections and the gap is named. A split route
        // balances by weight (round robin carries weights exactly; least
        // connections would bend them by load).
        let split = !route.split.is_empty();
        let balance = match (route.sticky, &route.fallback) {
            (Some(Sticky::ClientIp), None) => "hash $remote_addr consistent;",
            (Some(Sticky::Cookie), None) => "hash $berth_affinity_key consistent;",
            (Some(_), Some(_)) => {
                out.unsupported(
                    Target::Nginx,
                    format!("sticky sessions of `{}` on route `{}`, which has a fallback", route.service, route.path),
                    "nginx cannot hash clients and keep backup servers in one upstream; drop one of them for nginx",
                );
                "least_conn;"
            }
            (None, _) => "least_conn;",
        };
        let balance = if split && balance == "least_conn;" {
            "# round robin by weight: each service's servers carry its share"
        } else {
            balance
        };
        let _ = writeln!(c, "\n    upstream {name} {{\n        {balance}");
        if split {
            // One round-robin state for every worker: the weights hold
            // across them, not only within each.
            let _ = writeln!(c, "        zone {name} 64k;");
        }
        let mut members: Vec<(&ServicePlan, Vec<String>, u8)> =
            vec![(service, servers(service, route.port.port, upstreams), route.weight())];
        for share in &route.split {
            if let Some(other) = services(&share.service) {
                members.push((other, servers(other, share.port.port, upstreams), share.weight));
            }
        }
        // A name on the container network stands for every replica the
        // plan runs, each address taking the name's weight.
        let counts: Vec<(u8, usize)> = members
            .iter()
            .map(|(service, servers, weight)| match upstreams {
                Upstreams::Network => (*weight, service.replicas.initial() as usize),
                Upstreams::Host => (*weight, servers.len()),
            })
            .collect();
        let weights = split_weights(&counts);
        for ((_, servers, _), weight) in members.iter().zip(weights) {
            let weight = if split { format!(" weight={weight}") } else { String::new() };
            for server in servers {
                let _ = writeln!(c, "        server {server}{weight} max_fails=3 fail_timeout=10s;");
            }
        }
        // Backup servers take traffic only while every primary is down.
        if let Some((fallback, port)) = &route.fallback
            && let Some(fallback) = services(fallback)
        {
            for server in servers(fallback, port.port, upstreams) {
                let _ = writeln!(c, "        server {server} backup;");
            }
        }
        c.push_str("        keepalive 64;\n        keepalive_timeout 60s;\n    }\n");
    }
    let server_names = if edge.hosts.is_empty() { "_".to_owned() } else { edge.hosts.join(" ") };
    let headers = security_headers(edge);
    // HSTS means something only over HTTPS (RFC 6797 7.2); berth's edge
    // leaves it off plain-HTTP answers, and so does this.
    let plain_headers: Vec<String> =
        headers.iter().filter(|h| !h.starts_with("add_header Strict-Transport-Security ")).cloned().collect();
    if let Some(tls) = &edge.tls {
        // The handshake runs under the listen socket's default server, not
        // the server its name picks: the minimum holds only if it is set
        // for all of them.
        let _ = writeln!(c, "\n    ssl_protocols {};", ssl_protocols(tls.min_version));
    }
    if !edge.hosts.is_empty() {
        // Hosts the spec does not name get 421, as from berth's edge; HTTPS
        // for an unnamed host fails its handshake.
        let _ = write!(
            c,
            "
    server {{
        listen {http} default_server;
        listen [::]:{http} default_server;
        server_name _;
{headers}        return 421;
    }}
",
            http = edge.listen.http,
            headers = indented(&plain_headers)
        );
        if edge.tls.is_some() {
            let _ = write!(
                c,
                "
    server {{
        listen {https} ssl default_server;
        listen [::]:{https} ssl default_server;
        server_name _;
        ssl_reject_handshake on;
{headers}        return 421;
    }}
",
                https = edge.listen.https,
                headers = indented(&headers)
            );
        }
    }
    if edge.tls.is_some() && edge.redirect_https {
        let _ = write!(
            c,
            "
    server {{
        listen {http};
        listen [::]:{http};
        server_name {server_names};
{headers}        location /.well-known/acme-challenge/ {{
            root /var/www/acme;
        }}
        location / {{
            return 301 https://$host$request_uri;
        }}
    }}
",
            http = edge.listen.http,
            headers = indented(&plain_headers)
        );
    }
    // A route with a `host` answers on that host only, as on berth's edge:
    // each such host gets its own server block with its routes and the
    // routes for every host.
    for (names, routes) in host_groups(edge) {
        open_server(&mut c, edge, upstreams, &names.join(" "));
        c.push_str(PATH_GUARDS);
        for h in &headers {
            let _ = writeln!(c, "        {h}");
        }
        for route in routes {
            location(&mut c, plan, route, &headers);
        }
        c.push_str("    }\n");
    }
    c.push_str("}\n");
    c
}

fn ssl_protocols(min: TlsVersion) -> &'static str {
    match min {
        TlsVersion::V1_2 => "TLSv1.2 TLSv1.3",
        TlsVersion::V1_3 => "TLSv1.3",
    }
}

/// Header directives, one per line, at server-block depth; berth's edge
/// sends them on its own refusals too.
fn indented(headers: &[String]) -> String {
    headers.iter().map(|h| format!("        {h}\n")).collect()
}

/// Server names and the routes each server block serves, in route order.
fn host_groups(edge: &EdgePlan) -> Vec<(Vec<String>, Vec<&RoutePlan>)> {
    let mut specific: Vec<String> = Vec::new();
    for route in &edge.routes {
        if let Some(host) = &route.host
            && !specific.contains(host)
        {
            specific.push(host.clone());
        }
    }
    let mut groups: Vec<(Vec<String>, Vec<&RoutePlan>)> = Vec::new();
    let rest: Vec<String> = if edge.hosts.is_empty() {
        vec!["_".to_owned()]
    } else {
        edge.hosts.iter().filter(|h| !specific.contains(h)).cloned().collect()
    };
    // First, so that without `edge.hosts` (no 421 server) an unknown host
    // lands here, where no host-specific route is.
    if !rest.is_empty() {
        groups.push((rest, edge.routes.iter().filter(|r| r.host.is_none()).collect()));
    }
    groups.extend(specific.iter().map(|h| {
        let routes = edge.routes.iter().filter(|r| r.host.as_ref().is_none_or(|rh| rh == h)).collect();
        (vec![h.clone()], routes)
    }));
    groups
}

/// Opens the server block that serves routes for `server_names`.
fn open_server(c: &mut String, edge: &EdgePlan, upstreams: Upstreams, server_names: &str) {
    match &edge.tls {
        Some(tls) => {
            let (cert, key) = match (upstreams, tls.mode) {
                // On the host, the spec's own files.
                (Upstreams::Host, TlsMode::Files) => {
                    (tls.cert.clone().unwrap_or_default(), tls.key.clone().unwrap_or_default())
                }
                // Relative to nginx's prefix (/etc/nginx): certbot or berth
                // puts them there, and compose mounts its `tls/` there.
                (Upstreams::Network, _) | (Upstreams::Host, TlsMode::Acme | TlsMode::SelfSigned) => {
                    ("tls/fullchain.pem".to_owned(), "tls/privkey.pem".to_owned())
                }
            };
            let protocols = ssl_protocols(tls.min_version);
            let _ = write!(
                c,
                "
    server {{
        listen {https} ssl http2;
        listen [::]:{https} ssl http2;
        server_name {server_names};

        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols {protocols};
        ssl_ciphers {CIPHERS};
        ssl_prefer_server_ciphers off;
        ssl_session_cache shared:berth_tls:10m;
        ssl_session_timeout 1d;
        ssl_session_tickets off;
",
                https = edge.listen.https
            );
            if !edge.redirect_https {
                let _ = writeln!(c, "        listen {http};\n        listen [::]:{http};", http = edge.listen.http);
            }
        }
        None => {
            let _ = write!(
                c,
                "\n    server {{\n        listen {http};\n        listen [::]:{http};\n        server_name {server_names};\n",
                http = edge.listen.http
            );
        }
    }
}

fn servers(service: &ServicePlan, port: u16, upstreams: Upstreams) -> Vec<String> {
    match upstreams {
        // The container network's DNS balances across replicas of one name.
        Upstreams::Network => vec![format!("{}:{port}", service.name)],
        // Replica i listens on the port plus i. With no replica (`replicas:
        // 0`) the upstream keeps replica 0's address marked `down`, so nginx
        // accepts the file and nothing is sent there.
        Upstreams::Host => match service.replicas.initial() {
            0 => vec![format!("127.0.0.1:{port} down")],
            count => (0..count).map(|i| format!("127.0.0.1:{}", replica_port(port, i))).collect(),
        },
    }
}

fn security_headers(edge: &EdgePlan) -> Vec<String> {
    edge.headers
        .iter()
        .map(|(name, value)| format!("add_header {name} \"{}\" always;", value.replace('"', "\\\"")))
        .collect()
}

fn location(out_conf: &mut String, plan: &Plan, route: &RoutePlan, headers: &[String]) {
    // The block's body, written once and given to each `location` below.
    let mut b = String::new();
    let c = &mut b;
    if let Some(zone) = &route.rate_limit {
        let burst =
            plan.edge.as_ref().and_then(|e| e.rate_limits.iter().find(|z| &z.name == zone)).map_or(0, |z| z.burst);
        let _ = writeln!(c, "            limit_req zone={zone} burst={burst} nodelay;");
    }
    for entry in &route.allow {
        let _ = writeln!(c, "            allow {entry};");
    }
    if !route.allow.is_empty() {
        c.push_str("            deny all;\n");
    }
    let _ = writeln!(c, "            client_max_body_size {};", size(route.body_limit.0));
    // proxy_set_header in a location replaces every inherited one: set all here.
    c.push_str("            proxy_http_version 1.1;\n");
    if route.websocket {
        c.push_str("            proxy_set_header Upgrade $http_upgrade;\n            proxy_set_header Connection $connection_upgrade;\n");
    } else {
        c.push_str("            proxy_set_header Connection \"\";\n");
    }
    // The client's own X-Forwarded-For is replaced, never appended to: only
    // a trusted proxy's is believed (see `trusted_proxies` above).
    let forwarded_for = if plan.edge.as_ref().is_some_and(|e| !e.trusted_proxies.is_empty()) {
        "$berth_forwarded_for"
    } else {
        "$remote_addr"
    };
    let _ = write!(
        c,
        "            proxy_set_header Host $host;\n            proxy_set_header X-Real-IP $remote_addr;\n            proxy_set_header X-Forwarded-For {forwarded_for};\n            proxy_set_header X-Forwarded-Proto $scheme;\n            proxy_set_header X-Request-ID $request_id;\n"
    );
    // A client's own forwarding headers are not passed on (an empty value
    // drops the header), as berth's edge drops them.
    for name in CLIENT_FORWARDING_HEADERS {
        let _ = writeln!(c, "            proxy_set_header {name} \"\";");
    }
    let edge = plan.edge.as_ref();
    let connect = edge.map_or(Duration::secs(5), |e| e.timeouts.connect);
    let send = edge.map_or(Duration::secs(60), |e| e.timeouts.send);
    let _ = writeln!(
        c,
        "            proxy_connect_timeout {};\n            proxy_send_timeout {};\n            proxy_read_timeout {};",
        time(connect),
        time(send),
        time(route.timeout)
    );
    c.push_str("            proxy_next_upstream error timeout;\n            proxy_next_upstream_tries 2;\n");
    let cookie = route.sticky == Some(Sticky::Cookie);
    if route.websocket {
        c.push_str("            add_header X-Accel-Buffering \"no\" always;\n");
    }
    if cookie {
        // Empty for a client that has a valid cookie: nginx then adds none.
        c.push_str("            add_header Set-Cookie $berth_affinity_cookie always;\n");
    }
    if route.websocket || cookie {
        // A location with its own add_header loses the server's: repeat them.
        for h in headers {
            let _ = writeln!(c, "            {h}");
        }
    }
    let prefix = route.path.trim_end_matches('/');
    if route.strip_prefix && !prefix.is_empty() {
        // As berth's edge: `/docs` and `/docs/...` lose the prefix (and
        // `/docsx` is another path). A single `location /docs` with
        // `proxy_pass .../` would send `/docs/x` as `//x` and `/docsx` as `/x`.
        let upstream = upstream_name(route);
        for matcher in [format!("= {prefix}"), format!("{prefix}/")] {
            let _ = writeln!(
                out_conf,
                "\n        location {matcher} {{\n{b}            proxy_pass http://{upstream}/;\n        }}"
            );
        }
    } else {
        let _ = writeln!(
            out_conf,
            "\n        location {} {{\n{b}            proxy_pass http://{};\n        }}",
            route.path,
            upstream_name(route)
        );
    }
}

/// Headers naming the client, its host or the original URL, which services
/// believe; never passed on from a client (berth's edge drops the same).
const CLIENT_FORWARDING_HEADERS: [&str; 13] = [
    "Forwarded",
    "X-Forwarded-Host",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "X-Forwarded-Server",
    "X-Forwarded-Ssl",
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "X-Cluster-Client-IP",
    "Fastly-Client-IP",
];

/// Server-level checks before any location: paths with no single reading
/// are refused, as berth's edge refuses them (`berth_edge::path`): an
/// encoded `/`, `\`, `;` or NUL, a raw `\`, and `.`/`..` segments with
/// parameters (`/..;/`, which Java servers read as `..`). (In nginx's
/// quoted strings `\\\\` is a regex `\\`: one literal backslash.)
const PATH_GUARDS: &str = r#"        if ($request_uri ~* "^[^?]*(\\\\|%5c|%2f|%3b|%00)") {
            return 400;
        }
        if ($request_uri ~ "^[^?]*/\.\.?;") {
            return 400;
        }
"#;

/// An nginx time, exact: whole seconds, or milliseconds.
fn time(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
}

/// An nginx size, exact: `m` or `k` where they divide it, bytes otherwise.
pub(crate) fn size(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{}m", bytes >> 20)
    } else if bytes.is_multiple_of(1 << 10) {
        format!("{}k", bytes >> 10)
    } else {
        bytes.to_string()
    }
}

/// nginx only has r/s and r/m; an hourly rate is rounded up to r/m.
fn nginx_rate(requests: u32, per: RateUnit) -> String {
    match per {
        RateUnit::Second => format!("{requests}r/s"),
        RateUnit::Minute => format!("{requests}r/m"),
        // Rounded down, so the limit is never looser than the spec's, except
        // below 60/h: 1r/m is the least nginx says (the caller warns).
        RateUnit::Hour => format!("{}r/m", (requests / 60).max(1)),
    }
}
