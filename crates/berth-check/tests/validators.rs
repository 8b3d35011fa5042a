#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]
//! The rule fixtures against each ecosystem's own validator: every good
//! nginx, Prometheus and systemd fixture is valid (`nginx -t`, `promtool
//! check`, `systemd-analyze verify`), so the rules judge real
//! configurations. The bad fixtures show the other half of the point: the
//! validators reject only the few mistakes that break loading (an unknown
//! `limit_req` zone, an unparseable expression, a cipher list that matches
//! nothing) and accept every other bug berth reports.

use std::path::{Path, PathBuf};

use berth_test_support::{Run, read_tree, run, temp_dir, tool};

/// Fixtures the validator itself rejects, with a word of its complaint.
const REJECTED: [(&str, &str); 5] = [
    ("N002/bad", "limit_req"),
    ("N004/bad", "cipher"),
    ("N007/bad", "is not allowed here"),
    ("N009/bad", "no cipher match"),
    ("P003/bad", "unclosed left parenthesis"),
];

fn fixtures() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules");
    let mut out = Vec::new();
    for rule in std::fs::read_dir(&root).unwrap().flatten() {
        for case in ["bad", "good"] {
            let name = format!("{}/{case}", rule.file_name().to_string_lossy());
            out.push((name, rule.path().join(case)));
        }
    }
    out.sort();
    out
}

fn expect(label: &str, result: &Run, quiet: bool) {
    if let Some((_, word)) = REJECTED.iter().find(|(name, _)| label.starts_with(name)) {
        let output = format!("{}{}", result.stdout, result.stderr);
        assert!(!result.success && output.contains(word), "{label}: expected a rejection mentioning {word}:\n{output}");
        return;
    }
    let noisy = quiet && !(result.stdout.trim().is_empty() && result.stderr.trim().is_empty());
    assert!(result.success && !noisy, "{label} failed:\nstdout:\n{}\nstderr:\n{}", result.stdout, result.stderr);
}

/// nginx resolves upstream host names when it loads; the fixtures name
/// compose services, which only exist on a compose network.
fn loopback_hosts(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            for prefix in ["server ", "proxy_pass http://", "proxy_pass https://"] {
                if let Some(rest) = trimmed.strip_prefix(prefix)
                    && let Some((host, after)) = rest.split_once(':')
                    && !host.is_empty()
                    && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                    && host.parse::<std::net::IpAddr>().is_err()
                {
                    let indent = &line[..line.len() - trimmed.len()];
                    return format!("{indent}{prefix}127.0.0.1:{after}");
                }
            }
            line.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn nginx(label: &str, dir: &Path) {
    let files = read_tree(dir);
    let Some((conf, _)) = files.iter().find(|(p, _)| p.ends_with("nginx.conf")) else { return };
    let tmp = temp_dir();
    let t = tmp.path();
    let conf_dir = t.join(Path::new(conf).parent().unwrap());
    std::fs::create_dir_all(t.join("ssl")).unwrap();
    berth_test_support::self_signed_certificate(&t.join("ssl"), "c.pem", "k.pem");
    for (path, text) in &files {
        for word in text.split_whitespace() {
            if let Some(name) = word.trim_end_matches(';').strip_prefix("/etc/ssl/") {
                let source = if name.ends_with(".key") { "k.pem" } else { "c.pem" };
                std::fs::copy(t.join("ssl").join(source), t.join("ssl").join(name)).unwrap();
            }
        }
        let rewritten = loopback_hosts(text)
            .replace("/etc/ssl/", &format!("{}/ssl/", t.display()))
            .replace("/etc/nginx/", &format!("{}/", conf_dir.display()));
        let target = t.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, rewritten).unwrap();
    }
    let prefix = format!("{}/", t.display());
    let error_log = t.join("error.log");
    let conf_path = t.join(conf);
    let result = run(
        &tool("nginx"),
        &["-t", "-q", "-p", &prefix, "-e", &error_log.to_string_lossy(), "-c", &conf_path.to_string_lossy()],
        t,
    );
    expect(&format!("{label} (nginx -t)"), &result, true);
}

fn prometheus(label: &str, dir: &Path) {
    for (path, text) in read_tree(dir) {
        let file = dir.join(&path).to_string_lossy().into_owned();
        if text.starts_with("groups:") {
            let result = run(&tool("promtool"), &["check", "rules", &file], dir);
            expect(&format!("{label} (promtool check rules {path})"), &result, false);
        } else if text.contains("scrape_configs:") {
            let result = run(&tool("promtool"), &["check", "config", "--syntax-only", &file], dir);
            expect(&format!("{label} (promtool check config {path})"), &result, false);
        }
    }
}

fn systemd(label: &str, dir: &Path) {
    for (path, text) in read_tree(dir).into_iter().filter(|(p, _)| p.ends_with(".service")) {
        let tmp = temp_dir();
        let name = Path::new(&path).file_name().unwrap().to_string_lossy().into_owned();
        // The fixtures start a program the test machine does not have.
        std::fs::write(tmp.path().join(&name), text.replace("/usr/local/bin/web", "/usr/bin/true")).unwrap();
        let result = run(&tool("systemd-analyze"), &["verify", "--man=no", &format!("./{name}")], tmp.path());
        if label.starts_with("U003/bad") {
            // systemd itself warns about what U003 reports.
            assert!(
                result.stderr.contains("MemoryLimit=") && result.stderr.contains("CPUShares="),
                "{}",
                result.stderr
            );
            continue;
        }
        expect(&format!("{label} (systemd-analyze verify {path})"), &result, true);
    }
}

#[test]
fn fixtures_pass_their_ecosystems_validators() {
    for (label, dir) in fixtures() {
        nginx(&label, &dir);
        prometheus(&label, &dir);
        systemd(&label, &dir);
    }
}
