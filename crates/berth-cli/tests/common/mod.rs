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
    let mut up = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["up", "berth.yaml"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
