use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use berth_diagnostics::Severity;

use super::Checker;
use super::services::port_ref;
use crate::model::{AuthMethod, Edge, JwtAlgorithm, Route, TlsMode};
use crate::path::{Anchor, Path};
use crate::{Spec, codes};

/// `targets.systemd.host`: the firewall's SSH networks and the ban numbers.
fn host(spec: &Spec, checker: &mut Checker<'_>) {
    let Some(host) = spec.targets.systemd.as_ref().and_then(|s| s.host.as_ref()) else { return };
    let path = Path::root().key("targets").key("systemd").key("host");
    for (i, entry) in host.ssh_from.iter().enumerate() {
        if !valid_allow_entry(entry) {
            checker
                .error(
                    codes::INVALID_VALUE,
                    &path.key("ssh_from").index(i),
                    format!("`{entry}` is not an IP address or CIDR range"),
                )
                .with_help("write `203.0.113.0/24` or `2001:db8::/32`");
        }
    }
    if host.ssh_port == Some(0) {
        checker.error(codes::OUT_OF_RANGE, &path.key("ssh_port"), "port 0 is not a port");
    }
    if host.ban_after == Some(0) {
        checker
            .error(codes::OUT_OF_RANGE, &path.key("ban_after"), "a ban after 0 refusals bans every client")
            .with_help("count refusals from 1; 30 a minute is the default");
    }
    for (key, value) in [("ban_window", host.ban_window), ("ban_time", host.ban_time)] {
        if value.is_some_and(|d| d.0 < std::time::Duration::from_secs(1)) {
            checker.error(codes::OUT_OF_RANGE, &path.key(key), "at least 1s");
        }
    }
}

pub(crate) fn check(spec: &Spec, checker: &mut Checker<'_>) {
    host(spec, checker);
    let Some(edge) = &spec.edge else { return };
    let path = Path::root().key("edge");
    hosts(edge, &path, checker);
    trusted_proxies(edge, &path, checker);
    tls(edge, &path, checker);
    listen(edge, &path, checker);
    routes(spec, edge, &path, checker);
    rate_limits(edge, &path, checker);
    auth(edge, &path, checker);
}

fn is_hostname(host: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn trusted_proxies(edge: &Edge, path: &Path, checker: &mut Checker<'_>) {
    for (i, entry) in edge.trusted_proxies.iter().enumerate() {
        if !valid_allow_entry(entry) {
            checker
                .error(
                    codes::INVALID_VALUE,
                    &path.key("trusted_proxies").index(i),
                    format!("`{entry}` is not an IP address or CIDR range"),
                )
                .with_help("write the load balancer's address or range, such as `10.0.0.0/16`");
        }
    }
}

fn hosts(edge: &Edge, path: &Path, checker: &mut Checker<'_>) {
    let mut seen = BTreeSet::new();
    for (i, host) in edge.hosts.iter().enumerate() {
        if !is_hostname(host) {
            checker
                .error(codes::INVALID_VALUE, &path.key("hosts").index(i), format!("`{host}` is not a host name"))
                .with_help("write a name such as `shop.example.com` (no scheme, no port, no path)");
        }
        if !seen.insert(host.to_lowercase()) {
            checker.warning(
                codes::DUPLICATE_NAME,
                &path.key("hosts").index(i),
                format!("host `{host}` is listed twice"),
            );
        }
    }
}

fn is_local(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".local")
        || host.ends_with(".test")
        || host.parse::<IpAddr>().is_ok()
}

fn tls(edge: &Edge, path: &Path, checker: &mut Checker<'_>) {
    let tpath = path.key("tls");
    match &edge.tls {
        None => {
            if edge.redirect_https == Some(true) {
                checker
                    .error(
                        codes::CONTRADICTION,
                        &path.key("redirect_https"),
                        "HTTP is redirected to HTTPS, but the edge has no TLS",
                    )
                    .with_help("add `tls: { mode: self-signed }` (local) or `tls: { mode: acme, email: ... }`");
            }
            if edge.headers.hsts.is_some_and(|d| !d.0.is_zero()) {
                checker.warning(
                    codes::NOT_APPLICABLE,
                    &path.key("headers").key("hsts"),
                    "HSTS is only sent over HTTPS, and the edge has no TLS",
                );
            }
        }
        Some(tls) => {
            match tls.mode {
                TlsMode::Files => {
                    for (key, value) in [("cert", &tls.cert), ("key", &tls.key)] {
                        if value.is_none() {
                            checker
                                .report(
                                    codes::MISSING_SETTING,
                                    Severity::Error,
                                    &tpath,
                                    Anchor::Key,
                                    format!("`mode: files` needs `{key}`"),
                                )
                                .with_help("name the PEM certificate chain (`cert`) and private key (`key`) files");
                        }
                    }
                }
                TlsMode::Acme => {
                    if tls.email.as_deref().is_none_or(|e| !e.contains('@')) {
                        checker
                            .report(
                                codes::MISSING_SETTING,
                                Severity::Error,
                                &tpath,
                                Anchor::Key,
                                "ACME needs a contact `email`",
                            )
                            .with_help("add `email: ops@example.com`; the CA warns it before a certificate expires");
                    }
                    if edge.hosts.is_empty() {
                        checker
                            .report(
                                codes::MISSING_SETTING,
                                Severity::Error,
                                &path.key("tls").key("mode"),
                                Anchor::Value,
                                "ACME certificates are issued for named hosts, and `edge.hosts` is empty",
                            )
                            .with_help("list the public host names under `edge.hosts`");
                    }
                    for (i, host) in edge.hosts.iter().enumerate() {
                        if is_local(host) {
                            checker
                                .error(codes::CONTRADICTION, &path.key("hosts").index(i), format!("an ACME CA cannot issue a certificate for `{host}`"))
                                .with_help("use `mode: self-signed` for local and private names, or an overlay per environment");
                        }
                    }
                }
                TlsMode::SelfSigned => {}
            }
            if tls.mode != TlsMode::Files && (tls.cert.is_some() || tls.key.is_some()) {
                checker.warning(
                    codes::NOT_APPLICABLE,
                    &tpath.key(if tls.cert.is_some() { "cert" } else { "key" }),
                    "`cert` and `key` are only read with `mode: files`",
                );
            }
            if tls.mode != TlsMode::Acme && (tls.email.is_some() || tls.acme_directory.is_some()) {
                checker.warning(
                    codes::NOT_APPLICABLE,
                    &tpath.key(if tls.email.is_some() { "email" } else { "acme_directory" }),
                    "ACME settings are only read with `mode: acme`",
                );
            }
            if edge.redirect_https == Some(false) {
                checker
                    .warning(codes::INSECURE_SETTING, &path.key("redirect_https"), "plain HTTP is served next to HTTPS")
                    .with_help(
                        "clients that type the bare host name stay on unencrypted HTTP; leave `redirect_https` on",
                    );
            }
        }
    }
}

fn listen(edge: &Edge, path: &Path, checker: &mut Checker<'_>) {
    let lpath = path.key("listen");
    let ports = [("http", edge.listen.http), ("https", edge.listen.https), ("admin", edge.listen.admin)];
    let mut seen: BTreeMap<u16, &str> = BTreeMap::new();
    for (key, port) in ports {
        let Some(port) = port else { continue };
        if port == 0 {
            checker.error(codes::OUT_OF_RANGE, &lpath.key(key), "port 0 is not a port");
        }
        if let Some(first) = seen.insert(port, key) {
            checker
                .error(codes::PORT_CLASH, &lpath.key(key), format!("`{key}` and `{first}` both listen on {port}"))
                .with_related(&lpath.key(first), Anchor::Value, "also here");
        }
    }
}

pub fn valid_allow_entry(entry: &str) -> bool {
    match entry.split_once('/') {
        Some((ip, bits)) => match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Ok(IpAddr::V4(_)), Ok(b)) => b <= 32,
            (Ok(IpAddr::V6(_)), Ok(b)) => b <= 128,
            _ => false,
        },
        None => entry.parse::<IpAddr>().is_ok(),
    }
}

fn routes(spec: &Spec, edge: &Edge, path: &Path, checker: &mut Checker<'_>) {
    if edge.routes.is_empty() {
        checker
            .report(codes::MISSING_SETTING, Severity::Error, path, Anchor::Key, "the edge has no routes")
            .with_help("add `routes: [{ path: /, service: <name> }]`");
    }
    let services: Vec<&str> = spec.services.keys().map(String::as_str).collect();
    let zones: Vec<&str> = edge.rate_limits.keys().map(String::as_str).collect();
    let mut seen: BTreeMap<(Option<&str>, &str), usize> = BTreeMap::new();
    for (i, route) in edge.routes.iter().enumerate() {
        let rpath = path.key("routes").index(i);
        if !route.path.starts_with('/') {
            checker
                .error(
                    codes::INVALID_VALUE,
                    &rpath.key("path"),
                    format!("route path `{}` does not start with `/`", route.path),
                )
                .with_help(format!("write `/{}`", route.path.trim_start_matches('/')));
        }
        if let Some(j) = seen.insert((route.host.as_deref(), route.path.as_str()), i) {
            checker
                .error(codes::DUPLICATE_NAME, &rpath.key("path"), format!("two routes claim `{}`", route.path))
                .with_related(&path.key("routes").index(j).key("path"), Anchor::Value, "first claimed here")
                .with_help("only one of them could ever match; merge them or change a path");
        }
        match spec.services.get(&route.service) {
            None => checker.dangling(
                &rpath.key("service"),
                "service",
                &route.service,
                &services,
                "route to a service declared under `services:`",
            ),
            Some(service) => port_ref(service, route.port.as_deref(), &rpath, "route's", checker),
        }
        if let Some(fallback) = &route.fallback {
            match spec.services.get(fallback) {
                None => checker.dangling(
                    &rpath.key("fallback"),
                    "service",
                    fallback,
                    &services,
                    "fall back to a service declared under `services:`",
                ),
                Some(_) if fallback == &route.service => {
                    checker
                        .error(
                            codes::CONTRADICTION,
                            &rpath.key("fallback"),
                            "a route cannot fall back to its own service",
                        )
                        .with_help("name another service, such as a static maintenance page");
                }
                Some(service) if service.ports.is_empty() => {
                    checker
                        .error(
                            codes::MISSING_SETTING,
                            &rpath.key("fallback"),
                            format!("fallback service `{fallback}` declares no port"),
                        )
                        .with_help("add `ports: { http: ... }` to it");
                }
                Some(_) => {}
            }
        }
        split(spec, route, &rpath, &services, checker);
        if let Some(host) = &route.host
            && !edge.hosts.is_empty()
            && !edge.hosts.contains(host)
        {
            let known: Vec<&str> = edge.hosts.iter().map(String::as_str).collect();
            checker.dangling(&rpath.key("host"), "edge host", host, &known, "add it to `edge.hosts`");
        }
        if let Some(zone) = &route.rate_limit
            && !edge.rate_limits.contains_key(zone)
        {
            checker.dangling(
                &rpath.key("rate_limit"),
                "rate limit",
                zone,
                &zones,
                "declare it under `edge.rate_limits`",
            );
        }
        for (j, entry) in route.allow.iter().enumerate() {
            if !valid_allow_entry(entry) {
                checker
                    .error(
                        codes::INVALID_VALUE,
                        &rpath.key("allow").index(j),
                        format!("`{entry}` is not an IP address or CIDR range"),
                    )
                    .with_help("write `10.0.0.0/8`, `192.168.1.5` or `::1`");
            }
        }
        if route.timeout.is_some_and(|t| t.0.is_zero()) {
            checker.error(codes::OUT_OF_RANGE, &rpath.key("timeout"), "a timeout of 0 fails every request");
        }
        if let Some(auth) = &route.auth {
            let apath = rpath.key("auth");
            if auth.accept.is_empty() {
                checker
                    .error(codes::MISSING_SETTING, &apath.key("accept"), "the route accepts no credentials")
                    .with_help("list `api-key`, `jwt`, or both");
            }
            let edge_auth = edge.auth.as_ref();
            for (j, method) in auth.accept.iter().enumerate() {
                let configured = match method {
                    AuthMethod::ApiKey => edge_auth.is_some_and(|a| !a.api_keys.is_empty()),
                    AuthMethod::Jwt => edge_auth.is_some_and(|a| a.jwt.is_some()),
                };
                if !configured {
                    let what = match method {
                        AuthMethod::ApiKey => "API keys, but `edge.auth.api_keys` is empty",
                        AuthMethod::Jwt => "JWTs, but `edge.auth.jwt` is not set",
                    };
                    checker
                        .error(
                            codes::MISSING_SETTING,
                            &apath.key("accept").index(j),
                            format!("the route accepts {what}"),
                        )
                        .with_help("configure it under `edge.auth`");
                }
            }
            let only_keys = auth.accept == [AuthMethod::ApiKey];
            if only_keys {
                let granted: BTreeSet<&str> = edge_auth
                    .into_iter()
                    .flat_map(|a| a.api_keys.iter())
                    .flat_map(|k| k.roles.iter().map(String::as_str))
                    .collect();
                for (j, role) in auth.roles.iter().enumerate() {
                    if !granted.is_empty() && !granted.contains(role.as_str()) {
                        checker
                            .warning(
                                codes::DANGLING_REFERENCE,
                                &apath.key("roles").index(j),
                                format!("no API key grants role `{role}`"),
                            )
                            .with_help("no caller can use this route; grant the role to a key, or fix the name");
                    }
                }
            }
        }
    }
}

/// A route's `split`: known services with a port, each once and none the
/// route's own or its fallback, whole percentages that leave the route's
/// service a share, and one stickiness for all (a client must not be kept on
/// a replica of one service and sent to another by the split).
fn split(spec: &Spec, route: &Route, rpath: &Path, services: &[&str], checker: &mut Checker<'_>) {
    let mut total = 0.0;
    for (i, share) in route.split.iter().enumerate() {
        let spath = rpath.key("split").index(i);
        match spec.services.get(&share.service) {
            None => checker.dangling(
                &spath.key("service"),
                "service",
                &share.service,
                services,
                "split to a service declared under `services:`",
            ),
            Some(_) if share.service == route.service || route.fallback.as_ref() == Some(&share.service) => {
                let what = if share.service == route.service { "the route's own service" } else { "its fallback" };
                checker
                    .error(
                        codes::CONTRADICTION,
                        &spath.key("service"),
                        format!("a route cannot split its requests to {what}, `{}`", share.service),
                    )
                    .with_help("name another service: the route's `service` answers what the split leaves");
            }
            Some(target) => {
                port_ref(target, share.port.as_deref(), &spath, "split's", checker);
                let first = spec.services.get(&route.service);
                if let Some(first) = first
                    && first.sticky != target.sticky
                {
                    let said = |s: Option<crate::Sticky>| {
                        s.map_or("not sticky".to_owned(), |s| format!("`sticky: {}`", s.name()))
                    };
                    checker
                        .error(
                            codes::CONTRADICTION,
                            &spath.key("service"),
                            format!(
                                "`{}` is {} but the route's service `{}` is {}",
                                share.service,
                                said(target.sticky),
                                route.service,
                                said(first.sticky)
                            ),
                        )
                        .with_help(
                            "give the services of one route the same `sticky`, so a client stays with one of them",
                        );
                }
            }
        }
        if let Some(j) = route.split[..i].iter().position(|s| s.service == share.service) {
            checker
                .error(codes::DUPLICATE_NAME, &spath.key("service"), format!("`{}` is split to twice", share.service))
                .with_related(&rpath.key("split").index(j).key("service"), Anchor::Value, "first here")
                .with_help("give it one entry with the two weights added");
        }
        let weight = share.weight.0;
        if weight.fract() != 0.0 || !(1.0..=99.0).contains(&weight) {
            checker
                .error(
                    codes::OUT_OF_RANGE,
                    &spath.key("weight"),
                    format!("a split's weight must be a whole percentage from 1 to 99, not {weight}%"),
                )
                .with_help("write a whole percentage: ingress-nginx's canary weight and the ALB's target group weights are whole numbers");
        }
        total += weight;
    }
    if total >= 100.0 {
        checker
            .error(
                codes::OUT_OF_RANGE,
                &rpath.key("split"),
                format!("the split takes {total}% of the route's requests, leaving `{}` none", route.service),
            )
            .with_help("keep the weights under 100 in total, or route to the other service directly");
    }
}

fn rate_limits(edge: &Edge, path: &Path, checker: &mut Checker<'_>) {
    for (name, limit) in &edge.rate_limits {
        let lpath = path.key("rate_limits").key(name);
        if !edge.routes.iter().any(|r| r.rate_limit.as_deref() == Some(name)) {
            checker
                .report(
                    codes::UNUSED,
                    Severity::Warning,
                    &lpath,
                    Anchor::Key,
                    format!("rate limit `{name}` is not used by any route"),
                )
                .with_help(format!("add `rate_limit: {name}` to a route, or remove it"));
        }
        let per_second = limit.rate.per_second();
        if f64::from(limit.burst) < per_second {
            checker
                .warning(codes::CONTRADICTION, &lpath.key("burst"), format!("the burst ({}) is below the rate ({}, {per_second} per second)", limit.burst, limit.rate))
                .with_related(&lpath.key("rate"), Anchor::Value, "rate")
                .with_help("a client sending at the allowed rate in one go is refused; set `burst` to at least the requests of one second");
        }
    }
}

fn auth(edge: &Edge, path: &Path, checker: &mut Checker<'_>) {
    let Some(auth) = &edge.auth else { return };
    let apath = path.key("auth");
    let mut names = BTreeMap::new();
    for (i, key) in auth.api_keys.iter().enumerate() {
        let kpath = apath.key("api_keys").index(i);
        if let Some(j) = names.insert(key.name.as_str(), i) {
            checker
                .error(codes::DUPLICATE_NAME, &kpath.key("name"), format!("two API keys are named `{}`", key.name))
                .with_related(&apath.key("api_keys").index(j).key("name"), Anchor::Value, "first here");
        }
        match (&key.secret, &key.sha256) {
            (None, None) | (Some(_), Some(_)) => {
                checker
                    .report(
                        codes::CONTRADICTION,
                        Severity::Error,
                        &kpath,
                        Anchor::Value,
                        format!("API key `{}` needs exactly one of `secret` or `sha256`", key.name),
                    )
                    .with_help("reference a declared secret holding the key, or give the key's hex SHA-256");
            }
            (None, Some(hash)) if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                checker
                    .error(codes::INVALID_VALUE, &kpath.key("sha256"), "not a hex SHA-256 (64 hex digits)")
                    .with_help("compute it with `printf %s \"$KEY\" | sha256sum`");
            }
            _ => {}
        }
        if let Some(expires) = &key.expires
            && !is_date(expires)
        {
            checker
                .error(codes::INVALID_VALUE, &kpath.key("expires"), format!("`{expires}` is not a date"))
                .with_help("write `YYYY-MM-DD`, such as `2027-01-31`");
        }
    }
    if let Some(jwt) = &auth.jwt {
        let jpath = apath.key("jwt");
        match jwt.algorithm {
            JwtAlgorithm::HS256 => {
                if jwt.secret.is_none() {
                    checker.report(
                        codes::MISSING_SETTING,
                        Severity::Error,
                        &jpath,
                        Anchor::Key,
                        "HS256 needs `secret`, the declared secret holding the signing key",
                    );
                }
                if jwt.public_key.is_some() {
                    checker.warning(
                        codes::NOT_APPLICABLE,
                        &jpath.key("public_key"),
                        "`public_key` is only read for RS256",
                    );
                }
            }
            JwtAlgorithm::RS256 => {
                if jwt.public_key.is_none() {
                    checker.report(
                        codes::MISSING_SETTING,
                        Severity::Error,
                        &jpath,
                        Anchor::Key,
                        "RS256 needs `public_key`, the path of the PEM public key",
                    );
                }
                if jwt.secret.is_some() {
                    checker.warning(codes::NOT_APPLICABLE, &jpath.key("secret"), "`secret` is only read for HS256");
                }
            }
        }
        if jwt.audience.is_none() {
            checker
                .report(
                    codes::INSECURE_SETTING,
                    Severity::Warning,
                    &jpath,
                    Anchor::Key,
                    "JWTs are accepted for any audience",
                )
                .with_help("set `audience:` so tokens issued for other services are refused");
        }
    }
}

/// `YYYY-MM-DD` with a real month and day.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    text.len() == 10 && (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_entries_and_dates() {
        assert!(valid_allow_entry("10.0.0.0/8"));
        assert!(valid_allow_entry("::1"));
        assert!(!valid_allow_entry("10.0.0.0/33"));
        assert!(!valid_allow_entry("office"));
        assert!(is_date("2028-02-29"));
        assert!(!is_date("2027-02-29"));
        assert!(!is_date("2027-1-1"));
    }
}
