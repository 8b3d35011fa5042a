//! What the end-to-end tests of `berth up` share: the real binary, curl
//! against the edge, and cleanup of what a failed test leaves running.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests spawn the real binaries and fail loudly"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

pub fn berth(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_berth")).args(args).current_dir(dir).output().unwrap()
}

/// `curl` against the edge, trusting only the certificate `berth up` wrote.
pub fn curl(cert: &Path, url: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "--cacert"])
        .arg(cert)
        .args(extra)
        .arg(url)
        .output()
        .expect("curl (apt-get install curl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = text.lines().last().unwrap_or("0").trim().parse().unwrap_or(0);
    (code, text.to_lowercase())
}

/// Three threads sending `url` with curl until [`Load::finish`]: what a
/// deploy must serve without a failed request.
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Seen>>,
}

/// What the load saw: answers with 200, the other status codes, and the
/// `x-version` values of the answers.
#[derive(Default)]
pub struct Seen {
    pub ok: usize,
    pub failed: Vec<u16>,
    pub versions: std::collections::BTreeSet<String>,
}

impl Load {
    pub fn start(cert: &Path, url: &str) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..3)
            .map(|_| {
                let (stop, cert, url) = (stop.clone(), cert.to_path_buf(), url.to_owned());
                std::thread::spawn(move || {
                    let mut seen = Seen::default();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let (code, headers) = curl(&cert, &url, &[]);
                        if code == 200 {
                            seen.ok += 1;
                            if let Some(v) = headers.lines().find_map(|l| l.strip_prefix("x-version: ")) {
                                seen.versions.insert(v.trim().to_owned());
                            }
                        } else {
                            seen.failed.push(code);
                        }
                    }
                    seen
                })
            })
            .collect();
        Self { stop, threads }
    }

    pub fn finish(self) -> Seen {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut seen = Seen::default();
        for t in self.threads {
            let one = t.join().unwrap();
            seen.ok += one.ok;
            seen.failed.extend(one.failed);
            seen.versions.extend(one.versions);
        }
        seen
    }
}

/// Stops `berth up` (and so its replicas) if an assertion fails midway.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

pub fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

/// Starts `berth up` on a spec in `dir` and waits until it is serving.
pub fn start_up(dir: &Path) -> std::process::Child {
    start_up_with(dir, &[])
}

/// [`start_up`] with more environment (the `BERTH_SECRET_*` a spec needs).
pub fn start_up_with(dir: &Path, env: &[(&str, &str)]) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command.args(["up", "berth.yaml"]).envs(env.iter().copied());
    serving(command, dir)
}

/// [`start_up`] as another user (the tests run as root on CI).
pub fn start_up_as(dir: &Path, user: &str) -> std::process::Child {
    let mut command = Command::new("runuser");
    command.args(["-u", user, "--", env!("CARGO_BIN_EXE_berth"), "up", "berth.yaml"]);
    serving(command, dir)
}

fn serving(mut command: Command, dir: &Path) -> std::process::Child {
    let mut up = command.current_dir(dir).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("press Ctrl-C") {
            // Keep reading, as a terminal would, so later output never blocks.
            std::thread::spawn(move || lines.for_each(drop));
            return up;
        }
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut up.stderr.take().unwrap(), &mut stderr).unwrap();
    let _ = up.wait();
    panic!("berth up ended early: {stderr}");
}

/// Gives `dir` to the user berth up runs services as when it is root
/// (10001, the default `run_as_user`), for tests whose services and jobs
/// write files into their working directory.
pub fn writable_by_services(dir: &Path) {
    let status = Command::new("chown").arg("10001:10001").arg(dir).status().unwrap();
    assert!(status.success(), "chown 10001 {}", dir.display());
}
