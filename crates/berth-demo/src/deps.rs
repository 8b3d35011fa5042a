//! Dependencies the demo reports on in readiness: reachable means a TCP
//! connection opens within half a second.

use std::time::Duration;

use tokio::net::TcpStream;

#[derive(Debug, Clone)]
pub struct Dependency {
    pub env: &'static str,
    pub host: String,
    pub port: u16,
}

impl Dependency {
    /// `postgres://user@host:5432/db` → host and port.
    pub fn from_url(env: &'static str, url: &str) -> Option<Self> {
        let rest = url.split_once("://")?.1;
        let authority = rest.split('/').next()?;
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = host_port.rsplit_once(':')?;
        Some(Self { env, host: host.trim_matches(['[', ']']).to_owned(), port: port.parse().ok()? })
    }

    pub async fn reachable(&self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_millis(500), TcpStream::connect((self.host.as_str(), self.port))).await,
            Ok(Ok(_))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Dependency;

    #[test]
    fn host_and_port_from_urls() {
        let d = Dependency::from_url("DATABASE_URL", "postgres://shop:secret@127.0.0.1:5432/db")
            .unwrap_or_else(|| panic!());
        assert_eq!((d.host.as_str(), d.port), ("127.0.0.1", 5432));
        let r = Dependency::from_url("REDIS_URL", "redis://[::1]:6379/0").unwrap_or_else(|| panic!());
        assert_eq!((r.host.as_str(), r.port), ("::1", 6379));
    }
}
