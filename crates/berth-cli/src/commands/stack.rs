//! `berth up`, `status`, `down` and `logs`: the stack on this machine.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use berth_diagnostics::render_human;
use berth_runtime::{Options, StateFile};

use crate::Outcome;
use crate::cli::{LogsArgs, StackArgs, StatusArgs, StatusFormat};
use crate::{environment, output};

/// `.berth/<environment>` next to the spec.
pub(crate) fn state_dir(file: &Path, env: Option<&str>) -> PathBuf {
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(".berth").join(env.unwrap_or("base"))
}

pub(crate) fn load(file: &Path, env: Option<&str>, color: bool) -> anyhow::Result<Option<berth_plan::Plan>> {
    let source = super::read_spec(file)?;
    let loaded = berth_spec::load(&source.text, env);
    output::stderr(&render_human(&source, &loaded.diagnostics, output::color_choice(color)));
    Ok(loaded.spec.map(|spec| berth_plan::build(&spec, env)))
}

/// A secret's value: its file when it names one, else its environment variable.
pub(crate) fn secret_value(secret: &berth_plan::SecretPlan) -> Option<String> {
    match (&secret.file, &secret.env) {
        (Some(file), _) => std::fs::read_to_string(file).ok().map(|v| v.trim_end_matches(['\r', '\n']).to_owned()),
        (None, Some(var)) => environment::var(var),
        (None, None) => None,
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// `berth up -d`: the same command in its own session, output to a log;
/// returns once it is serving (or has failed).
#[allow(clippy::disallowed_methods, reason = "berth starts a copy of itself; services are spawned by the runtime")]
fn detach(args: &crate::cli::UpArgs) -> anyhow::Result<Outcome> {
    use std::os::unix::process::CommandExt as _;
    let stack = &args.stack;
    let state = std::path::absolute(state_dir(&stack.file, stack.env.as_deref()))?;
    std::fs::create_dir_all(state.join("logs"))?;
    let log_path = state.join("logs/berth-up.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("up").arg(&stack.file);
    if let Some(env) = &stack.env {
        cmd.args(["--env", env]);
    }
    let child = cmd.stdin(std::process::Stdio::null()).stdout(log.try_clone()?).stderr(log).process_group(0).spawn()?;
    let pid = child.id();
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while std::time::Instant::now() < deadline {
        if let Some(s) = StateFile::read(&state.join("state.json")).filter(|s| s.supervisor == pid) {
            let mut out =
                format!("{} is running in the background (pid {pid}); log: {}\n", s.project, log_path.display());
            if let Some(https) = s.edge_https {
                out.push_str(&format!("edge: https://{https}\n"));
            }
            if let Some(http) = s.edge_http {
                out.push_str(&format!("edge: http://{http}\n"));
            }
            output::stdout(&out)?;
            return Ok(Outcome::Ok);
        }
        if !berth_runtime::alive(pid) {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            output::stderr(
                &text
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .map(|l| format!("{l}\n"))
                    .collect::<String>(),
            );
            bail!("berth up stopped before it was ready; see {}", log_path.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("berth up was not ready after 300s; see {}", log_path.display())
}

pub fn up(args: &crate::cli::UpArgs, color: bool) -> anyhow::Result<Outcome> {
    if args.detach {
        return detach(args);
    }
    let args = &args.stack;
    let Some(plan) = load(&args.file, args.env.as_deref(), color)? else {
        output::stderr("nothing started: the spec has errors\n");
        return Ok(Outcome::Findings);
    };
    // Absolute: replicas and servers run in other working directories.
    let state = std::path::absolute(state_dir(&args.file, args.env.as_deref()))
        .context("cannot resolve the state directory")?;
    if let Some(existing) = StateFile::read(&state.join("state.json")).filter(|s| berth_runtime::alive(s.supervisor)) {
        bail!(
            "{} is already running (berth up, pid {}); stop it with `berth down`",
            existing.project,
            existing.supervisor
        );
    }
    let spec_dir = args.file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let spec_dir = spec_dir.canonicalize().unwrap_or(spec_dir);
    runtime()?.block_on(async {
        let spec_dir_for_wal = spec_dir.clone();
        let options = Options { spec_dir, state_dir: state.clone(), secrets: Box::new(secret_value) };
        let running = berth_runtime::up(&plan, options).await?;
        let shippers = super::backup::wal_shippers(&plan, &state, &spec_dir_for_wal);
        let shipping = (!shippers.is_empty()).then(|| {
            let shippers = shippers.clone();
            tokio::spawn(async move {
                loop {
                    ship_wal(&shippers).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        });
        let control = state.join("control.sock");
        let _ = std::fs::remove_file(&control);
        let listener = tokio::net::UnixListener::bind(&control)
            .with_context(|| format!("cannot listen on {}", control.display()))?;
        let replicas: u32 = plan.services.iter().map(|s| s.replicas.initial().max(1)).sum();
        let mut lines = format!("{}: {} services, {replicas} replicas ready\n", plan.project, plan.services.len());
        if let Some(https) = running.edge_https {
            lines.push_str(&format!("edge: https://{https} (certificate {})\n", state.join("tls/cert.pem").display()));
        }
        if let Some(http) = running.edge_http {
            lines.push_str(&format!("edge: http://{http}\n"));
        }
        lines.push_str("press Ctrl-C to stop\n");
        let _ = output::stdout(&lines);
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot watch SIGTERM")?;
        let running = std::sync::Arc::new(tokio::sync::Mutex::new(Some(running)));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate.recv() => break,
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        tokio::spawn(serve_control(stream, running.clone()));
                    }
                }
            }
        }
        // A closed stdout must not cut the graceful stop short.
        let _ = output::stdout("stopping: draining the edge, then the replicas\n");
        let _ = std::fs::remove_file(&control);
        if let Some(running) = running.lock().await.take() {
            running.down().await;
        }
        // PostgreSQL archives its last segment as it stops; ship that too.
        if let Some(task) = shipping {
            task.abort();
            ship_wal(&shippers).await;
        }
        let _ = output::stdout("stopped\n");
        Ok(Outcome::Ok)
    })
}

/// One pass of every WAL shipper; failures are reported, and the segments
/// stay in the spool for the next pass.
async fn ship_wal(shippers: &[(String, PathBuf, berth_backup::Destination)]) {
    for (name, spool, destination) in shippers {
        if spool.is_dir()
            && let Err(e) = berth_backup::wal::ship(spool, destination, name).await
        {
            output::stderr(&format!("warning: archiving WAL of `{name}`: {e}\n"));
        }
    }
}

pub fn down(args: &StackArgs) -> anyhow::Result<Outcome> {
    let path = state_dir(&args.file, args.env.as_deref()).join("state.json");
    let Some(state) = StateFile::read(&path) else {
        output::stdout("nothing is running\n")?;
        return Ok(Outcome::Ok);
    };
    if !berth_runtime::alive(state.supervisor) {
        let _ = std::fs::remove_file(&path);
        output::stdout("nothing is running (removed a stale state file)\n")?;
        return Ok(Outcome::Ok);
    }
    // The supervisor is the leader of no group of its own: signal it alone.
    berth_runtime::terminate(state.supervisor);
    for _ in 0..600 {
        if !berth_runtime::alive(state.supervisor) {
            output::stdout(&format!("{} stopped\n", state.project))?;
            return Ok(Outcome::Ok);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("berth up (pid {}) did not stop within 60s", state.supervisor)
}

pub fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let stack = &args.stack;
    let path = state_dir(&stack.file, stack.env.as_deref()).join("state.json");
    let Some(state) = StateFile::read(&path) else {
        output::stdout("nothing is running\n")?;
        return Ok(Outcome::Findings);
    };
    let plan = load(&stack.file, stack.env.as_deref(), false)?;
    let rows = runtime()?.block_on(probe(&state, plan.as_ref()));
    match args.output {
        StatusFormat::Json => output::stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(
                &serde_json::json!({ "project": state.project, "edge_https": state.edge_https, "edge_http": state.edge_http, "replicas": rows })
            )?
        ))?,
        StatusFormat::Table => {
            let mut out = format!(
                "{:<14} {:>7} {:>8} {:>6}  {:<9} {:>8}  {}\n",
                "SERVICE", "REPLICA", "PID", "PORT", "HEALTH", "RESTARTS", "VERSION"
            );
            for r in &rows {
                out.push_str(&format!(
                    "{:<14} {:>7} {:>8} {:>6}  {:<9} {:>8}  {}\n",
                    r["service"].as_str().unwrap_or(""),
                    r["replica"].as_u64().unwrap_or(0),
                    r["pid"].as_u64().map_or("-".to_owned(), |p| p.to_string()),
                    r["port"].as_u64().map_or("-".to_owned(), |p| p.to_string()),
                    r["health"].as_str().unwrap_or(""),
                    r["restarts"].as_u64().unwrap_or(0),
                    r["version"].as_str().unwrap_or("-")
                ));
            }
            output::stdout(&out)?;
        }
    }
    let healthy = rows.iter().all(|r| r["health"] == "ready");
    Ok(if healthy { Outcome::Ok } else { Outcome::Findings })
}

/// One row per replica, with a live readiness check.
async fn probe(state: &StateFile, plan: Option<&berth_plan::Plan>) -> Vec<serde_json::Value> {
    use http_body_util::Empty;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let mut rows = Vec::new();
    for r in &state.replicas {
        let service = plan.and_then(|p| p.services.iter().find(|s| s.name == r.service));
        let readiness = service.and_then(|s| s.probes.readiness.as_ref()).and_then(|p| match &p.check {
            berth_plan::ProbeCheck::Http { path, port } => Some((path.clone(), port.name.clone())),
            _ => None,
        });
        let port =
            readiness.as_ref().and_then(|(_, name)| r.ports.get(name)).or_else(|| r.ports.values().next()).copied();
        let alive = r.pid.is_some_and(berth_runtime::alive);
        let (health, version) = match (alive, &readiness, port) {
            (false, _, _) => ("down".to_owned(), None),
            (true, Some((path, _)), Some(port)) => {
                let req = hyper::Request::get(format!("http://127.0.0.1:{port}{path}")).body(Empty::new());
                match req {
                    Ok(req) => match tokio::time::timeout(Duration::from_secs(2), client.request(req)).await {
                        Ok(Ok(resp)) => {
                            let version =
                                resp.headers().get("x-version").and_then(|v| v.to_str().ok()).map(str::to_owned);
                            (if resp.status().is_success() { "ready" } else { "not ready" }.to_owned(), version)
                        }
                        _ => ("not ready".to_owned(), None),
                    },
                    Err(_) => ("unknown".to_owned(), None),
                }
            }
            (true, _, _) => ("running".to_owned(), None),
        };
        rows.push(serde_json::json!({ "service": r.service, "replica": r.replica, "pid": r.pid, "port": port, "health": health, "restarts": r.restarts, "version": version, "log": r.log }));
    }
    rows
}

pub fn logs(args: &LogsArgs) -> anyhow::Result<Outcome> {
    let state = state_dir(&args.file, args.env.as_deref());
    let dir = state.join("logs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("no logs in {} (has `berth up` run?)", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .filter(|p| {
            args.service
                .as_ref()
                .is_none_or(|s| p.file_stem().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{s}-"))))
        })
        .collect();
    files.sort();
    let mut offsets = vec![0u64; files.len()];
    loop {
        for (file, offset) in files.iter().zip(offsets.iter_mut()) {
            let Ok(mut f) = std::fs::File::open(file) else { continue };
            let _ = f.seek(SeekFrom::Start(*offset));
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            *offset += text.len() as u64;
            let name = file.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut out = String::new();
            for line in text.lines() {
                out.push_str(&format!("{name:<16} | {line}\n"));
            }
            output::stdout(&out)?;
        }
        if !args.follow {
            return Ok(Outcome::Ok);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One control connection: a JSON command in, progress lines and a final
/// JSON result out. Commands run one at a time (the lock).
async fn serve_control(
    stream: tokio::net::UnixStream,
    running: std::sync::Arc<tokio::sync::Mutex<Option<berth_runtime::Running>>>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    if tokio::io::BufReader::new(read).read_line(&mut line).await.is_err() {
        return;
    }
    let command: berth_runtime::DeployCommand = match serde_json::from_str(&line) {
        Ok(c) => c,
        Err(e) => {
            let _ = write
                .write_all(format!("{}\n", serde_json::json!({ "error": format!("bad command: {e}") })).as_bytes())
                .await;
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let forward = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let result = {
        let mut guard = running.lock().await;
        match guard.as_mut() {
            Some(running) => {
                let progress_tx = tx.clone();
                let mut progress = move |line: String| {
                    let _ = progress_tx.send(format!("{}\n", serde_json::json!({ "progress": line })));
                };
                running.execute(command, &mut progress).await.map_err(|e| e.to_string())
            }
            None => Err("the stack is stopping".to_owned()),
        }
    };
    let last = match result {
        Ok(()) => serde_json::json!({ "ok": true }),
        Err(e) => serde_json::json!({ "error": e }),
    };
    let _ = tx.send(format!("{last}\n"));
    drop(tx);
    let _ = forward.await;
}

/// Sends a command to `berth up` and prints its progress.
pub fn control(file: &Path, env: Option<&str>, command: berth_runtime::DeployCommand) -> anyhow::Result<Outcome> {
    use std::io::{BufRead, Write};
    let socket = state_dir(file, env).join("control.sock");
    let mut stream = std::os::unix::net::UnixStream::connect(&socket)
        .with_context(|| format!("nothing is running (no {}); start it with `berth up`", socket.display()))?;
    stream.write_all(format!("{}\n", serde_json::to_string(&command)?).as_bytes())?;
    let mut steps = crate::progress::Steps::new();
    for line in std::io::BufReader::new(stream).lines() {
        let value: serde_json::Value = serde_json::from_str(&line?).unwrap_or_default();
        if let Some(p) = value["progress"].as_str() {
            steps.step(p)?;
        } else if value["ok"] == true {
            steps.finish(true);
            return Ok(Outcome::Ok);
        } else if let Some(e) = value["error"].as_str() {
            steps.finish(false);
            output::stderr(&format!("error: {e}\n"));
            return Ok(Outcome::Findings);
        }
    }
    steps.finish(false);
    bail!("berth up closed the connection without an answer")
}

pub fn deploy(args: &crate::cli::DeployArgs) -> anyhow::Result<Outcome> {
    let mut set = std::collections::BTreeMap::new();
    for pair in &args.set {
        let (k, v) = pair.split_once('=').with_context(|| format!("--set {pair}: expected KEY=VALUE"))?;
        set.insert(k.to_owned(), v.to_owned());
    }
    control(
        &args.file,
        args.env.as_deref(),
        berth_runtime::DeployCommand::Deploy { service: args.service.clone(), version: args.version.clone(), set },
    )
}
