//! Addresses written in one file (`proxy_pass http://api:8000`, a scrape
//! target `api:9100`) resolved against what the others deploy: compose
//! services and Kubernetes Services, with the ports they listen on.

use berth_diagnostics::Span;

use super::command::{facts, words};
use super::{ComposeService, Dockerfile, Graph};

#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Something deployed has that name and listens on the port (or does
    /// not say which ports it listens on).
    Found,
    /// Something has that name, but it listens elsewhere.
    WrongPort { what: String, file: usize, span: Span, ports: Vec<i64> },
    /// Nothing deployed has that name.
    Unknown,
    /// An address berth cannot judge: an IP, localhost, an external DNS
    /// name, or a tree that deploys nothing by name.
    External,
}

impl Graph<'_> {
    /// The checked Dockerfile a compose service builds, if any.
    pub fn dockerfile_of(&self, service: &ComposeService<'_>) -> Option<&Dockerfile> {
        let path = service.dockerfile.as_deref()?;
        self.dockerfiles.iter().find(|d| d.path == path)
    }

    /// Ports a compose service's container listens on, as far as its files
    /// say: published targets, `expose`, its Dockerfile's `EXPOSE`, the
    /// bind flags of its command; then, when those name any, the ports its
    /// image listens on by default and `PORT`-named variables it is given
    /// (`API_PORT=2019`). Empty when
    /// the files cannot say: a service that mounts its own configuration
    /// (`./mosquitto:/mosquitto/config`) may listen wherever that says.
    pub fn compose_ports(&self, service: &ComposeService<'_>) -> Vec<i64> {
        let mut ports: Vec<i64> = Vec::new();
        for s in self.compose_service(&service.project, service.name) {
            if super::compose::mounts_configuration(s) {
                return Vec::new();
            }
            ports.extend(s.ports.iter().filter_map(|p| p.target));
            ports.extend(&s.expose);
            if let Some((command, _)) = &s.command
                && let Some(port) = facts(&words(command)).port
            {
                ports.push(i64::from(port));
            }
            if let Some(df) = self.dockerfile_of(s) {
                ports.extend(df.exposed());
                if let Some(port) = facts(&df.command()).port {
                    ports.push(i64::from(port));
                }
            }
        }
        // What the image opens by default and what variables ask for only
        // widen a set the files state: alone they are too weak to call a
        // port closed (a shared `APP_PORT` anchor, an image's config).
        if !ports.is_empty() {
            for s in self.compose_service(&service.project, service.name) {
                if let Some(repo) = s.image.as_deref().and_then(super::builds::repository) {
                    ports.extend(super::images::default_ports(&repo));
                }
                ports.extend(s.environment.iter().filter_map(|v| listen_port(&v.name, v.value.as_deref()?)));
            }
        }
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// Whether `port`, which [`Graph::compose_ports`] does not list, is
    /// known not to be served. `ports:` targets, `expose:` and `EXPOSE` only
    /// say what the author believes the app listens on, and an image built
    /// elsewhere may listen on another port (an app's own `.env`, a
    /// framework's default): when nothing else says where the service
    /// listens (a bind flag, a listen variable, an image berth knows), only
    /// the classic mix-up is certain: `port` is the host side of one of the
    /// service's published ports, which other containers cannot reach it on.
    fn port_is_known_wrong(&self, service: &ComposeService<'_>, port: u16) -> bool {
        let declarations: Vec<&ComposeService<'_>> = self.compose_service(&service.project, service.name).collect();
        let stated = declarations.iter().any(|s| {
            s.command.as_ref().is_some_and(|(c, _)| facts(&words(c)).port.is_some())
                || self.dockerfile_of(s).is_some_and(|df| facts(&df.command()).port.is_some())
                || s.image
                    .as_deref()
                    .and_then(super::builds::repository)
                    .is_some_and(|r| !super::images::default_ports(r.as_ref()).is_empty())
                || s.environment
                    .iter()
                    .any(|v| v.value.as_deref().and_then(|value| listen_port(&v.name, value)).is_some())
        });
        stated
            || declarations.iter().any(|s| {
                s.ports.iter().any(|p| {
                    p.published.as_deref().is_some_and(|h| h.trim() == port.to_string())
                        && p.target != Some(i64::from(port))
                })
            })
    }

    /// What `host:port` reaches, seen from `namespace` (Kubernetes) or any
    /// compose project.
    /// What `host:port`, written in `file`, reaches. Only a deployment
    /// that is visible can be judged: when the file's unit deploys no
    /// compose service and no Service, the names are someone else's
    /// (`External`). A name is looked up in the unit first; found only in
    /// other units, it counts as found when one of them has the port.
    pub fn resolve(&self, file: usize, namespace: Option<&str>, host: &str, port: Option<u16>) -> Resolved {
        // A host name is case-insensitive; compose names are lowercase.
        let host = &host.to_ascii_lowercase();
        let unit = self.unit(file);
        let deploys_names = self.compose.iter().any(|s| self.unit(s.file) == unit)
            || self.services.iter().any(|s| self.unit(self.objects[s.object].file) == unit);
        let ip = host.parse::<std::net::IpAddr>().is_ok();
        if !deploys_names || ip || host == "localhost" || host.is_empty() {
            return Resolved::External;
        }
        let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
        let cluster = labels.len() == 1
            || labels.len() == 3 && labels[2] == "svc"
            || labels.len() == 5 && labels[2..] == ["svc", "cluster", "local"]
            || labels.len() == 2 && !self.services.is_empty() && self.namespace_exists(labels[1]);
        if !cluster {
            return Resolved::External;
        }
        let name = labels[0];
        let wanted_ns = labels.get(1).copied().or(namespace);
        let compose: Vec<&ComposeService<'_>> = self
            .compose
            .iter()
            .filter(|s| {
                answers_to(s, name)
                    || self.compose.iter().any(|c| c.project == s.project && super::compose::linked_as(c, s.name, name))
            })
            .collect();
        let in_unit = compose.iter().copied().find(|s| self.unit(s.file) == unit);
        if labels.len() == 1
            && in_unit.is_none()
            && compose.iter().any(|s| {
                port.is_none_or(|p| {
                    let ports = self.compose_ports(s);
                    // A service whose ports berth cannot know may be the one.
                    ports.is_empty() || ports.contains(&i64::from(p))
                })
            })
        {
            return Resolved::Found;
        }
        if labels.len() == 1
            && let Some(s) = in_unit.or_else(|| compose.first().copied())
        {
            let ports = self.compose_ports(s);
            return match port {
                Some(p) if !ports.is_empty() && !ports.contains(&i64::from(p)) && self.port_is_known_wrong(s, p) => {
                    Resolved::WrongPort {
                        what: format!("compose service `{}`", s.name),
                        file: s.file,
                        span: s.span,
                        ports,
                    }
                }
                _ => Resolved::Found,
            };
        }
        let named: Vec<_> = self
            .services
            .iter()
            .filter(|s| {
                let o = &self.objects[s.object];
                o.name == name && (wanted_ns.is_none() || o.namespace.is_none() || o.namespace == wanted_ns)
            })
            .collect();
        let own = named.iter().copied().find(|s| self.unit(self.objects[s.object].file) == unit);
        let serves = |s: &&super::Service<'_>| port.is_none_or(|p| s.ports.iter().any(|sp| sp.port == i64::from(p)));
        if own.is_none() && named.iter().any(serves) {
            return Resolved::Found;
        }
        let service = own.or_else(|| named.first().copied());
        match service {
            Some(s) => {
                let ports: Vec<i64> = s.ports.iter().map(|p| p.port).collect();
                match port {
                    Some(p) if !ports.is_empty() && !ports.contains(&i64::from(p)) => {
                        let o = &self.objects[s.object];
                        Resolved::WrongPort { what: o.title(), file: o.file, span: o.span, ports }
                    }
                    _ => Resolved::Found,
                }
            }
            None => Resolved::Unknown,
        }
    }

    fn namespace_exists(&self, namespace: &str) -> bool {
        self.objects.iter().any(|o| o.namespace == Some(namespace) || o.kind == "Namespace" && o.name == namespace)
    }
}

/// The port a variable may make the container open: `PORT=8080`,
/// `API_PORT=2019`, or an address to listen on,
/// `CHARON_MONITORING_ADDRESS=0.0.0.0:3620`, `LISTEN_ADDR=:9000`.
/// Widening the set only ever silences a finding, so a client-side
/// `DB_PORT` read as a listener costs nothing.
fn listen_port(name: &str, value: &str) -> Option<i64> {
    let name = name.to_ascii_uppercase();
    let value = value.trim();
    // `DB_PORT=5432`, `REDIS_ADDR=redis:6379`: where the service connects,
    // not where it listens.
    const PEERS: [&str; 16] = [
        "DB", "DATABASE", "POSTGRES", "PG", "MYSQL", "MARIADB", "REDIS", "MONGO", "RABBIT", "AMQP", "KAFKA", "SMTP",
        "MAIL", "ELASTIC", "MEMCACHE", "NATS",
    ];
    if name.split('_').any(|word| PEERS.iter().any(|p| word.starts_with(p))) {
        return None;
    }
    let text = if name == "PORT" || name.ends_with("_PORT") {
        value
    } else if ["ADDR", "LISTEN", "BIND"].iter().any(|w| name.contains(w)) && !value.contains("://") {
        value.rsplit_once(':')?.1
    } else {
        return None;
    };
    let port = text.parse::<u16>().ok()?;
    (port > 0).then_some(i64::from(port))
}

/// Whether other containers reach compose service `s` by `name`: its
/// service name, `container_name`, `hostname`, network aliases and links
/// ([`super::compose::network_names`]), or the name compose gives its
/// containers, `<project>-<service>-<n>` (`<project>_<service>_<n>` before
/// compose v2), the project being the directory's name.
fn answers_to(s: &ComposeService<'_>, name: &str) -> bool {
    if super::compose::network_names(s).iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return true;
    }
    let project = s.dir.rsplit(['/', '\\']).next().unwrap_or(&s.dir).to_ascii_lowercase();
    let service = s.name.to_ascii_lowercase();
    [('-', '-'), ('_', '_')].iter().any(|(a, b)| {
        name.strip_prefix(&format!("{project}{a}{service}{b}"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::listen_port;

    #[test]
    fn variables_that_name_a_listener() {
        assert_eq!(listen_port("PORT", "8080"), Some(8080));
        assert_eq!(listen_port("api_port", " 2019 "), Some(2019));
        assert_eq!(listen_port("CHARON_MONITORING_ADDRESS", "0.0.0.0:3620"), Some(3620));
        assert_eq!(listen_port("LISTEN_ADDR", ":9000"), Some(9000));
        assert_eq!(listen_port("HTTP_BIND", "[::]:8081"), Some(8081));
        assert_eq!(listen_port("LOKI_ADDRESSES", "http://loki:3100/loki/api/v1/push"), None);
        assert_eq!(listen_port("REDIS_HOST", "redis:6379"), None);
        assert_eq!(listen_port("PORT", "0"), None);
    }
}
