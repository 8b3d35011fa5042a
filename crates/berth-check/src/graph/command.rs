//! What a command line says about the server it starts: the address it
//! binds, the side listeners it also opens (admin, metrics, health), its
//! request and keep-alive timeouts, its worker count. Read from the flags of
//! the common servers (gunicorn, uvicorn, puma, Spring, Go's `-addr`, most
//! CLIs' `--host`/`--port`, `berth edge --admin`).

/// Facts from one command line; `None` where it says nothing.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CommandFacts {
    /// The host part of the bind address, when given.
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Seconds a request may take before the server kills it (gunicorn `--timeout`).
    pub timeout: Option<u64>,
    /// Seconds an idle keep-alive connection stays open.
    pub keep_alive: Option<u64>,
    pub workers: Option<u64>,
    /// Side listeners the process also opens, as (host, port): an admin or
    /// status page (`berth edge --admin 127.0.0.1:9180`), metrics, health.
    /// Kept apart from `port`: traffic is not sent there, but a health
    /// check may ask them (one run inside the container even on loopback).
    pub side: Vec<(Option<String>, u16)>,
}

/// Flags that name a side listener's address (`host:port` or a port).
const SIDE_FLAGS: [&str; 11] = [
    // Node's debugger (`--inspect=0.0.0.0:9229`): a port, not the service.
    "--inspect",
    // MinIO's web console, beside the S3 API of `--address`.
    "--console-address",
    "--inspect-brk",
    "--admin",
    "--admin-addr",
    "--admin-address",
    "--metrics-addr",
    "--metrics-address",
    "--metrics-bind-address",
    "--health-probe-bind-address",
    "--status-address",
];

/// Splits a command as a shell would, well enough for flags: quotes are
/// removed, `sh -c '...'` bodies are split too.
pub fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() || c == ';' || c == '&' || c == '|' => {
                if any || !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                any = false;
            }
            (None, c) => current.push(c),
        }
    }
    if any || !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether a host names this machine itself: `localhost` or a loopback
/// address (`127.0.0.2`, `::1`, `[::1]`).
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn address(value: &str) -> (Option<String>, Option<u16>) {
    let value = value.trim_start_matches("tcp://").trim_start_matches("http://");
    if value.starts_with("unix:") {
        return (None, None);
    }
    match value.rsplit_once(':') {
        Some((host, port)) => {
            let bracketed = host.starts_with('[');
            let host = host.trim_start_matches('[').trim_end_matches(']');
            // `statictor:127.0.0.1:29051` (lightningd's `--addr`) is a
            // scheme and an address to announce, not a bind: a host with a
            // colon is only an unbracketed IPv6 literal.
            if !bracketed && host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
                return (None, None);
            }
            ((!host.is_empty()).then(|| host.to_owned()), port.parse().ok())
        }
        None => match value.parse() {
            Ok(port) => (None, Some(port)),
            Err(_) => (Some(value.to_owned()), None),
        },
    }
}

pub fn facts(words: &[String]) -> CommandFacts {
    let mut out = CommandFacts::default();
    let mut i = 0;
    // A subshell's script is one word: split it and read it too.
    let expanded = expanded(words);
    while i < expanded.len() {
        let word = expanded[i].as_str();
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_owned())),
            _ => (word, None),
        };
        let takes_value = matches!(
            flag,
            "--bind"
                | "-b"
                | "--listen"
                | "--addr"
                | "-addr"
                | "--address"
                | "--host"
                | "--port"
                | "--tls-port"
                | "--http-port"
                | "--server.port"
                | "-Dserver.port"
                | "--timeout"
                | "--keep-alive"
                | "--timeout-keep-alive"
                | "--workers"
                | "-w"
        ) || SIDE_FLAGS.contains(&flag);
        if !takes_value {
            i += 1;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => match expanded.get(i + 1) {
                // Some tools take `--admin` as a switch: the next flag is
                // not its value, and is read on its own.
                Some(next) if next.starts_with('-') && SIDE_FLAGS.contains(&flag) => {
                    i += 1;
                    continue;
                }
                Some(next) => {
                    i += 1;
                    next.clone()
                }
                None => break,
            },
        };
        match flag {
            "--bind" | "-b" | "--listen" | "--addr" | "-addr" | "--address" => {
                let (host, port) = address(&value);
                // A client's `-addr grpc-server:8082` names the peer it
                // dials: only an address a server can bind (none, an IP
                // literal, `localhost`) says where this one listens.
                let peer = matches!(flag, "--addr" | "-addr" | "--address")
                    && host.as_deref().is_some_and(|h| h != "localhost" && h.parse::<std::net::IpAddr>().is_err());
                if !peer {
                    out.host = host.or(out.host);
                    out.port = port.or(out.port);
                }
            }
            "--host" => out.host = Some(value),
            // `--port 0` turns a listener off (Redis with `--tls-port 6379 --port 0`).
            "--port" | "--http-port" | "--tls-port" | "--server.port" | "-Dserver.port" => {
                out.port = value.parse().ok().filter(|p| *p != 0).or(out.port);
            }
            // Only gunicorn's `--timeout` times requests out: a wrapper's
            // (`wait-for-it.sh --timeout=720 -- node app.js`) is not the app's.
            "--timeout" if run_by(&expanded, i, "gunicorn") => out.timeout = value.parse().ok(),
            "--keep-alive" | "--timeout-keep-alive" => out.keep_alive = value.parse().ok(),
            "--workers" | "-w" => out.workers = value.parse().ok(),
            side if SIDE_FLAGS.contains(&side) => match address(&value) {
                (host, Some(port)) => out.side.push((host, port)),
                // Node's debugger without a port listens on 9229.
                (host, None) if side.starts_with("--inspect") => out.side.push((host, 9229)),
                _ => {}
            },
            _ => {}
        }
        i += 1;
    }
    out
}

/// Whether the option at `index` belongs to `program`: the nearest program
/// word before it is `program`, with no `--`, `&&`, `;` or `|` between.
fn run_by(words: &[String], index: usize, program: &str) -> bool {
    for word in words[..index.min(words.len())].iter().rev() {
        if matches!(word.as_str(), "--" | "&&" | "||" | ";" | "|") {
            return false;
        }
        if word.rsplit('/').next() == Some(program) {
            return true;
        }
    }
    false
}

/// Servers' documented defaults where the command line says nothing:
/// gunicorn times requests out after 30 s and keeps idle connections 2 s,
/// uvicorn keeps them 5 s, Node's http server 5 s.
pub fn with_defaults(words: &[String], mut facts: CommandFacts) -> CommandFacts {
    let program = |name: &str| words.iter().any(|w| w.rsplit('/').next() == Some(name));
    if program("gunicorn") {
        facts.timeout = facts.timeout.or(Some(30));
        facts.keep_alive = facts.keep_alive.or(Some(2));
    } else if program("uvicorn") || program("node") {
        facts.keep_alive = facts.keep_alive.or(Some(5));
    }
    facts
}

/// The port a health-check command or URL asks (`curl -f http://localhost:8080/healthz`),
/// with the path.
pub fn url_in(command: &str) -> Option<(Option<u16>, String)> {
    let start = command.find("http://").or_else(|| command.find("https://"))?;
    let url = command[start..].split(|c: char| c.is_whitespace() || c == '"' || c == '\'').next()?;
    let rest = url.split_once("://")?.1;
    let (authority, path) = rest.split_once('/').map_or((rest, String::from("/")), |(a, p)| (a, format!("/{p}")));
    let port = match authority.rsplit_once(':') {
        Some((_, p)) => p.parse().ok(),
        None if url.starts_with("https") => Some(443),
        None => Some(80),
    };
    Some((port, path))
}

/// The host of the first `http://` or `https://` URL in `command`.
pub fn url_host(command: &str) -> Option<String> {
    let start = command.find("http://").or_else(|| command.find("https://"))?;
    let url = command[start..].split(|c: char| c.is_whitespace() || c == '"' || c == '\'').next()?;
    let authority = url.split_once("://")?.1.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    Some(host.to_ascii_lowercase())
}

/// A setting as one place (a command line, an environment variable, a
/// config file) gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Absent,
    Value(String),
    /// Set, to something berth cannot read.
    Unknown,
}

/// The last value of a command-line option: `--timeout 60`,
/// `--timeout=60`, `-t 60`, `-t60`.
pub fn option(args: &[String], long: &str, short: Option<&str>) -> Setting {
    let mut out = Setting::Absent;
    let mut i = 0;
    while i < args.len() {
        let w = args[i].as_str();
        if w == long || Some(w) == short {
            out = args.get(i + 1).map_or(Setting::Unknown, |v| Setting::Value(v.clone()));
            i += 2;
            continue;
        }
        if let Some(v) = w.strip_prefix(long).and_then(|rest| rest.strip_prefix('=')) {
            out = Setting::Value(v.to_owned());
        } else if let Some(v) = short.and_then(|s| w.strip_prefix(s)).filter(|v| !v.is_empty() && !w.starts_with("--"))
        {
            out = Setting::Value(v.trim_start_matches('=').to_owned());
        }
        i += 1;
    }
    out
}

/// Shell words, with `sh -c '...'` bodies split too.
pub fn expanded(command: &[String]) -> Vec<String> {
    command.iter().flat_map(|w| if w.contains(' ') { words(w) } else { vec![w.clone()] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(command: &str) -> CommandFacts {
        facts(&words(command))
    }

    #[test]
    fn common_servers() {
        let g = of("gunicorn app:app --bind 0.0.0.0:8000 --workers 4 --timeout 120");
        assert_eq!(
            (g.host.as_deref(), g.port, g.workers, g.timeout),
            (Some("0.0.0.0"), Some(8000), Some(4), Some(120))
        );
        // A wrapper's timeout is not the app's.
        let w = of("./wait-for-it.sh db:5432 --timeout=720 -- node server.js");
        assert_eq!(w.timeout, None);
        let w = of("./wait-for-it.sh db:5432 --timeout=720 -- gunicorn app:app --timeout 90");
        assert_eq!(w.timeout, Some(90));
        let u = of("uvicorn main:app --host 127.0.0.1 --port=9000 --timeout-keep-alive 75");
        assert_eq!((u.host.as_deref(), u.port, u.keep_alive), (Some("127.0.0.1"), Some(9000), Some(75)));
        assert_eq!(of("/server -addr=:8080").port, Some(8080));
        assert_eq!(of("/server -addr 0.0.0.0:8080").port, Some(8080));
        // A client's peer is not where it listens.
        assert_eq!(of("/client -addr grpc-server:8082").port, None);
        assert_eq!(of("/client --addr=redis.example.com:6379 --port 8081").port, Some(8081));
        assert_eq!(of("redis-server --tls-port 6379 --port 0").port, Some(6379));
        assert_eq!(of("java -jar app.jar --server.port=8081").port, Some(8081));
        assert_eq!(of("sh -c 'exec puma -b tcp://0.0.0.0:3000'").port, Some(3000));
        assert_eq!(of("gunicorn -b unix:/run/app.sock app:app").port, None);
        // An announced address with a scheme is not a bind; IPv6 literals are.
        let lightning = of("lightningd --bind-addr=10.21.0.5:9735 --addr=statictor:10.21.0.2:29051");
        assert_eq!(lightning.port, None);
        assert_eq!(of("server --listen [::1]:8080").port, Some(8080));
        assert_eq!(of("server --listen :::8080").port, Some(8080));
        let d = with_defaults(&words("gunicorn app:app"), of("gunicorn app:app"));
        assert_eq!((d.timeout, d.keep_alive), (Some(30), Some(2)));
    }

    #[test]
    fn side_listeners_are_not_the_serving_port() {
        let edge = of("edge /etc/berth/berth.yaml --admin 127.0.0.1:9180 --tls-cert /etc/tls/cert.pem");
        assert_eq!(edge.port, None);
        assert_eq!(edge.side, [(Some("127.0.0.1".to_owned()), 9180)]);
        let manager = of("/manager --metrics-bind-address=:8443 --health-probe-bind-address :8081 --port 9443");
        assert_eq!(manager.port, Some(9443));
        assert_eq!(manager.side, [(None, 8443), (None, 8081)]);
        assert!(of("edge --admin").side.is_empty());
        let node = of("node --inspect=0.0.0.0:9229 server.js --port 3000");
        assert_eq!((node.port, node.side.clone()), (Some(3000), vec![(Some("0.0.0.0".to_owned()), 9229)]));
        assert_eq!(of("nodemon --inspect=0.0.0.0 server.js").side, [(Some("0.0.0.0".to_owned()), 9229)]);
        let minio = of("minio server /data --address :3200 --console-address :3201");
        assert_eq!((minio.port, minio.side.clone()), (Some(3200), vec![(None, 3201)]));
        let switch = of("tool --admin --port 8080");
        assert_eq!((switch.port, switch.side.len()), (Some(8080), 0));
    }

    #[test]
    fn health_urls() {
        assert_eq!(url_in("curl -fsS http://localhost:8080/healthz || exit 1"), Some((Some(8080), "/healthz".into())));
        assert_eq!(url_in("wget -qO- http://127.0.0.1/ready"), Some((Some(80), "/ready".into())));
        assert_eq!(url_in("pg_isready"), None);
    }
}
