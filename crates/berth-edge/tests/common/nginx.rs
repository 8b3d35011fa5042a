//! The nginx berth renders, run for real on loopback next to the edge.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use berth_test_support::TempDir;
use tokio::net::TcpStream;

/// The rendered nginx.conf, moved onto loopback: it listens on `listen`
/// only, keeps its pid, logs and temporary files in `dir`, reads the
/// system's mime.types and sends every upstream to the test's services.
/// Everything that decides how a request is treated is left as rendered.
fn loopback_conf(
    rendered: &str,
    dir: &Path,
    listen: SocketAddr,
    tls: Option<&Tls>,
    upstream: &dyn Fn(&str, usize) -> SocketAddr,
) -> String {
    assert_eq!(rendered.contains(" ssl"), tls.is_some(), "nginx.conf has TLS exactly when the spec does:\n{rendered}");
    let d = dir.display();
    let mut out = vec![format!("pid {d}/nginx.pid;"), format!("error_log {d}/error.log;")];
    let (mut listens, mut servers, mut mime) = (0, 0, 0);
    // The n-th `server` of the current upstream (replica n).
    let mut index = 0;
    let mut current: Option<String> = None;
    for line in rendered.lines() {
        let t = line.trim();
        match t.split_whitespace().next().unwrap_or("") {
            "user" | "pid" | "error_log" | "worker_rlimit_nofile" => continue,
            "include" if t == "include mime.types;" => {
                out.push("    include /etc/nginx/mime.types;".to_owned());
                for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                    out.push(format!("    {temp}_temp_path {d}/{temp}_temp;"));
                }
                mime += 1;
                continue;
            }
            "access_log" => {
                // The rendered format, written at once (no buffer).
                let format = t.split_whitespace().nth(2).filter(|f| !f.contains('=')).unwrap_or("combined");
                out.push(format!("    access_log {d}/access.log {};", format.trim_end_matches(';')));
                continue;
            }
            "listen" => {
                // IPv4 loopback only: the IPv6 twin of each listen goes;
                // the parameters (ssl, http2, default_server) stay.
                if !t.starts_with("listen [") {
                    let params = t.trim_end_matches(';').split_whitespace().skip(2).collect::<Vec<_>>().join(" ");
                    let addr = match tls {
                        Some(tls) if params.contains("ssl") => tls.listen,
                        _ => listen,
                    };
                    out.push(format!("        listen {addr} {params};").replace(" ;", ";"));
                    listens += 1;
                }
                continue;
            }
            "ssl_certificate" | "ssl_certificate_key" if tls.is_some() => {
                let file = if t.starts_with("ssl_certificate_key") { "tls.key" } else { "tls.crt" };
                out.push(format!("        {} {d}/{file};", t.split_whitespace().next().unwrap_or_default()));
                continue;
            }
            "upstream" => {
                current = t.strip_prefix("upstream ").and_then(|r| r.strip_suffix(" {")).map(str::to_owned);
                index = 0;
            }
            "}" => current = None,
            "server" => {
                if let Some(name) = &current
                    && let Some(rest) = t.strip_prefix("server ")
                {
                    // `server ADDR params;`: the address changes, the parameters stay.
                    let params = rest.split_once(' ').map_or(";", |(_, p)| p);
                    out.push(format!("        server {} {params}", upstream(name.as_str(), index)));
                    servers += 1;
                    index += 1;
                    continue;
                }
            }
            _ => {}
        }
        out.push(line.to_owned());
    }
    assert!(
        listens >= 1 && servers >= 1 && mime == 1,
        "the rendered nginx.conf changed shape ({listens} listen, {servers} upstream servers, {mime} mime.types); \
         update this rewrite:\n{rendered}"
    );
    let mut conf = out.join("\n");
    conf.push('\n');
    conf
}

/// Where the rendered `listen 443 ssl` goes, with the certificate to serve.
#[derive(Debug)]
pub struct Tls {
    pub listen: SocketAddr,
    pub cert_pem: String,
    pub key_pem: String,
}

/// nginx in the foreground, one process; killed by its PID when dropped.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
    dir: TempDir,
}

impl Nginx {
    /// Starts the rendered nginx.conf with each upstream (by name) sent to
    /// the address `upstream` gives.
    pub async fn start(rendered: &str, upstream: &dyn Fn(&str) -> SocketAddr) -> Self {
        Self::start_with(rendered, None, upstream).await
    }

    /// [`Nginx::start`] for a spec with TLS: its HTTPS server blocks listen
    /// on `tls.listen` and serve `tls`'s certificate.
    pub async fn start_with(rendered: &str, tls: Option<&Tls>, upstream: &dyn Fn(&str) -> SocketAddr) -> Self {
        Self::start_replicas(rendered, tls, &|name, _| upstream(name)).await
    }

    /// [`Nginx::start_with`], each upstream's n-th server (replica n) at
    /// `upstream(name, n)`.
    pub async fn start_replicas(
        rendered: &str,
        tls: Option<&Tls>,
        upstream: &dyn Fn(&str, usize) -> SocketAddr,
    ) -> Self {
        let dir = berth_test_support::temp_dir();
        let addr = SocketAddr::from(([127, 0, 0, 1], berth_test_support::free_port()));
        if let Some(tls) = tls {
            std::fs::write(dir.path().join("tls.crt"), &tls.cert_pem).unwrap();
            std::fs::write(dir.path().join("tls.key"), &tls.key_pem).unwrap();
        }
        let conf_text = loopback_conf(rendered, dir.path(), addr, tls, upstream);
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, &conf_text).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = berth_test_support::command(&berth_test_support::tool("nginx").to_string_lossy())
            .arg("-c")
            .arg(conf)
            .arg("-p")
            .arg(format!("{}/", dir.path().display()))
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-g")
            .arg("daemon off; master_process off;")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("nginx is a test dependency (scripts/install-test-deps)");
        let mut nginx = Self { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}\n{conf_text}", nginx.logs());
            }
            if TcpStream::connect(addr).await.is_ok() {
                return nginx;
            }
            assert!(Instant::now() < deadline, "nginx never listened on {addr}:\n{}", nginx.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The access log, in the rendered format.
    pub fn access_log(&self) -> std::path::PathBuf {
        self.dir.path().join("access.log")
    }

    pub fn logs(&self) -> String {
        ["stderr.log", "error.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // master_process off: this one PID is all of it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
