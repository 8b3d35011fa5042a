//! `berth up`, `status`, `down` and `logs`: the stack on this machine.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use berth_runtime::{Options, StateFile};

use super::{load, runtime, secret_value, state_dir};
use crate::Outcome;
use crate::cli::{LogsArgs, StackArgs, StatusArgs, StatusFormat};
use crate::output;

/// `berth up -d`: the same command in its own session, output to a log;
/// returns once it is serving (or has failed).
#[allow(clippy::disallowed_methods, reason = "berth starts a copy of itself; services are spawned by the runtime")]
fn detach(args: &crate::cli::UpArgs) -> anyhow::Result<Outcome> {
    use std::os::unix::process::CommandExt as _;
    let stack = &args.stack;
    // Wrong usage is said here, not by the copy in the background.
    super::declared_environment(&stack.file, stack.env.as_deref())?;
    let state = std::path::absolute(state_dir(&stack.file, stack.env.as_deref()))?;
    berth_runtime::process::create_private_dir(&state.join("logs"))?;
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
        if let Some(s) = StateFile::read(&state.join("state.json")).filter(|s| s.supervisor == pid && s.ready) {
            let mut out =
                format!("{} is running in the background (pid {pid}); log: {}\n", s.project, log_path.display());
            if let Some(https) = s.edge_https {
                out.push_str(&format!("edge: {}\n", edge_url("https", https, &served_hosts(&state))));
            }
            if let Some(http) = s.edge_http {
                out.push_str(&format!("edge: {}\n", edge_url("http", http, &served_hosts(&state))));
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

/// The URL to reach the edge at: a host it serves (it answers 421 to any
/// other name, the bare address included), on the port it bound.
fn edge_url(scheme: &str, addr: std::net::SocketAddr, hosts: &[String]) -> String {
    match hosts.iter().find(|h| !h.contains('*')) {
        Some(host) => format!("{scheme}://{host}:{}", addr.port()),
        None => format!("{scheme}://{addr}"),
    }
}

/// `edge.hosts` of the plan a running stack was started from.
fn served_hosts(state_dir: &Path) -> Vec<String> {
    std::fs::read_to_string(state_dir.join(berth_runtime::state::PLAN_FILE))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|plan| serde_json::from_value(plan["edge"]["hosts"].clone()).ok())
        .unwrap_or_default()
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
    match berth_runtime::state::inspect(&state) {
        berth_runtime::Found::Running(existing) => bail!(
            "{} is already running (berth up, pid {}); stop it with `berth down`",
            existing.project,
            existing.supervisor
        ),
        berth_runtime::Found::Orphaned { state: dead, leftovers } if !leftovers.is_empty() => {
            output::stderr(&format!(
                "berth up (pid {}) died and left {} processes running; stopping them first\n",
                dead.supervisor,
                leftovers.len()
            ));
            runtime()?.block_on(berth_runtime::state::reap(&state, LEFTOVER_GRACE));
        }
        berth_runtime::Found::Orphaned { .. } | berth_runtime::Found::Nothing => {}
    }
    let spec_dir = args.file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let spec_dir = spec_dir.canonicalize().unwrap_or(spec_dir);
    runtime()?.block_on(async {
        let spec_dir_for_wal = spec_dir.clone();
        let spec_file = std::path::absolute(&args.file).context("cannot resolve the spec's path")?;
        let options = Options { spec_dir, spec_file, state_dir: state.clone(), secrets: Box::new(secret_value) };
        let running = berth_runtime::up(&plan, options).await?;
        let shippers = super::dependencies::wal_shippers(&plan, &state, &spec_dir_for_wal);
        let shipping = (!shippers.is_empty()).then(|| {
            let shippers = shippers.clone();
            tokio::spawn(async move {
                loop {
                    ship_wal(&shippers).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        });
        let control = berth_runtime::daemon::listen(&state)?;
        running.mark_ready();
        let replicas: u32 = plan.services.iter().map(|s| s.replicas.initial().max(1)).sum();
        let mut lines = format!("{}: {} services, {replicas} replicas ready\n", plan.project, plan.services.len());
        if let Some(https) = running.edge_https {
            let hosts = plan.edge.as_ref().map(|e| e.hosts.clone()).unwrap_or_default();
            lines.push_str(&format!(
                "edge: {} (certificate {})\n",
                edge_url("https", https, &hosts),
                state.join("tls/cert.pem").display()
            ));
        }
        if let Some(http) = running.edge_http {
            let hosts = plan.edge.as_ref().map(|e| e.hosts.clone()).unwrap_or_default();
            lines.push_str(&format!("edge: {}\n", edge_url("http", http, &hosts)));
        }
        lines.push_str("press Ctrl-C to stop\n");
        let _ = output::stdout(&lines);
        berth_runtime::daemon::serve(running, &state, control).await?;
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

/// How long processes a dead `berth up` left get to stop before SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(10);

pub fn down(args: &StackArgs) -> anyhow::Result<Outcome> {
    super::declared_environment(&args.file, args.env.as_deref())?;
    let dir = state_dir(&args.file, args.env.as_deref());
    let state = match berth_runtime::state::inspect(&dir) {
        berth_runtime::Found::Nothing => {
            output::stdout("nothing is running\n")?;
            return Ok(Outcome::Ok);
        }
        berth_runtime::Found::Orphaned { state, leftovers } => {
            let stopped = runtime()?.block_on(berth_runtime::state::reap(&dir, LEFTOVER_GRACE));
            if leftovers.is_empty() {
                output::stdout("nothing is running (removed a stale state file)\n")?;
            } else {
                output::stdout(&format!(
                    "{}: berth up (pid {}) had died; stopped the {} processes it left: {}\n",
                    state.project,
                    state.supervisor,
                    stopped.len(),
                    stopped.iter().map(|i| i.pid.to_string()).collect::<Vec<_>>().join(", ")
                ))?;
            }
            return Ok(Outcome::Ok);
        }
        berth_runtime::Found::Running(state) => state,
    };
    // Verified just now as the same process; it is the leader of no group of
    // its own: signal it alone.
    berth_runtime::terminate(state.supervisor);
    for _ in 0..600 {
        if !state.supervisor_running() {
            output::stdout(&format!("{} stopped\n", state.project))?;
            return Ok(Outcome::Ok);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("berth up (pid {}) did not stop within 60s", state.supervisor)
}

pub fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let stack = &args.stack;
    super::declared_environment(&stack.file, stack.env.as_deref())?;
    let path = state_dir(&stack.file, stack.env.as_deref()).join("state.json");
    let Some(state) = StateFile::read(&path) else {
        output::stdout("nothing is running\n")?;
        return Ok(Outcome::Findings);
    };
    if !state.supervisor_running() {
        let leftovers = state.leftovers();
        output::stdout(&format!(
            "{}: berth up (pid {}) is not running{}\n",
            state.project,
            state.supervisor,
            if leftovers.is_empty() {
                String::new()
            } else {
                format!("; it left {} processes running: `berth down` stops them", leftovers.len())
            }
        ))?;
        return Ok(Outcome::Findings);
    }
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
    let healthy = rows.iter().all(|r| r["health"] == "ready" || r["health"] == "running");
    Ok(if healthy { Outcome::Ok } else { Outcome::Findings })
}

/// One row per replica, with a live readiness check: HTTP and TCP probes
/// run here by the rule `berth up` and the edge use; a replica with no
/// readiness probe, or an exec probe (it needs the replica's environment,
/// which holds secrets and is not written down), counts as running.
async fn probe(state: &StateFile, plan: Option<&berth_plan::Plan>) -> Vec<serde_json::Value> {
    use berth_runtime::probe::{Target, check};
    let mut rows = Vec::new();
    for r in &state.replicas {
        let service = plan.and_then(|p| p.services.iter().find(|s| s.name == r.service));
        let readiness = service.and_then(|s| s.probes.readiness.as_ref());
        let target = readiness
            .filter(|p| !matches!(p.check, berth_plan::ProbeCheck::Exec { .. }))
            .and_then(|p| Target::resolve(&p.check, &r.ports, Path::new("."), &[], &Default::default()));
        let port = match &target {
            Some(Target::Http { addr, .. } | Target::Tcp { addr }) => Some(addr.port()),
            _ => r.ports.values().next().copied(),
        };
        let alive = r.identity.as_ref().map_or_else(|| r.pid.is_some_and(berth_runtime::alive), |i| i.is_running());
        let (health, version) = match (alive, &target, readiness) {
            (false, _, _) => ("down", None),
            (true, Some(target), Some(plan)) => {
                let outcome = check(target, plan.timeout.0.max(Duration::from_secs(2))).await;
                (if outcome.passed { "ready" } else { "not ready" }, outcome.version)
            }
            (true, _, _) => ("running", None),
        };
        rows.push(serde_json::json!({ "service": r.service, "replica": r.replica, "pid": r.pid, "port": port, "health": health, "restarts": r.restarts, "version": version.or_else(|| r.version.clone()), "log": r.log }));
    }
    rows
}

pub fn logs(args: &LogsArgs) -> anyhow::Result<Outcome> {
    super::declared_environment(&args.file, args.env.as_deref())?;
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

/// The services of the `berth up` running from `state`, from the plan it
/// started with; `None` when none runs there (the control socket says so).
fn running_services(state: &Path) -> Option<Vec<String>> {
    if !StateFile::read(&state.join("state.json")).is_some_and(|s| s.supervisor_running()) {
        return None;
    }
    let text = std::fs::read_to_string(state.join(berth_runtime::state::PLAN_FILE)).ok()?;
    let plan: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(plan["services"].as_array()?.iter().filter_map(|s| s["name"].as_str().map(str::to_owned)).collect())
}

/// The jobs of the stack running from `state`, from the plan it started with.
fn running_jobs(state: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(state.join(berth_runtime::state::PLAN_FILE)).ok()?;
    let plan: serde_json::Value = serde_json::from_str(&text).ok()?;
    let services = plan["services"].as_array()?;
    Some(
        services
            .iter()
            .flat_map(|s| s["jobs"].as_array().into_iter().flatten())
            .filter_map(|j| j["name"].as_str().map(str::to_owned))
            .collect(),
    )
}

/// Sends a command to `berth up` and prints its progress.
pub fn control(file: &Path, env: Option<&str>, command: berth_runtime::DeployCommand) -> anyhow::Result<Outcome> {
    use berth_runtime::control::{ControlError, send};
    super::declared_environment(file, env)?;
    let state = state_dir(file, env);
    let service = match &command {
        berth_runtime::DeployCommand::Deploy { service, .. } => service.as_deref(),
        berth_runtime::DeployCommand::Promote { service } | berth_runtime::DeployCommand::Rollback { service } => {
            Some(service.as_str())
        }
        berth_runtime::DeployCommand::Run { .. } => None,
    };
    if let berth_runtime::DeployCommand::Run { job } = &command
        && let Some(jobs) = running_jobs(&state)
        && !jobs.iter().any(|j| j == job)
    {
        let close = berth_spec::did_you_mean(job, jobs.iter().map(String::as_str))
            .map(|close| format!("did you mean `{close}`? "))
            .unwrap_or_default();
        let known = if jobs.is_empty() { "none".to_owned() } else { jobs.join(", ") };
        crate::usage!("the running stack has no job `{job}`; {close}jobs: {known}");
    }
    // A name the running stack does not have is wrong usage, said before
    // anything is asked of it.
    if let Some(service) = service
        && let Some(services) = running_services(&state)
        && !services.iter().any(|running| running == service)
    {
        let close = berth_spec::did_you_mean(service, services.iter().map(String::as_str))
            .map(|close| format!("did you mean `{close}`? "))
            .unwrap_or_default();
        crate::usage!("the running stack has no service `{service}`; {close}services: {}", services.join(", "));
    }
    let socket = berth_runtime::daemon::control_socket(&state);
    let mut steps = crate::progress::Steps::new();
    let result = send(&socket, &command, |line| {
        let _ = steps.step(line);
    });
    match result {
        Ok(()) => {
            steps.finish(true);
            Ok(Outcome::Ok)
        }
        Err(ControlError::Failed(error)) => {
            steps.finish(false);
            output::stderr(&format!("error: {error}\n"));
            Ok(Outcome::Findings)
        }
        Err(other) => {
            steps.finish(false);
            Err(other.into())
        }
    }
}

pub fn deploy(args: &crate::cli::DeployArgs) -> anyhow::Result<Outcome> {
    // Read as KEY=VALUE with the arguments; a later --set of a key wins.
    let set = args.set.iter().cloned().collect();
    control(
        &args.file,
        args.env.as_deref(),
        berth_runtime::DeployCommand::Deploy { service: args.service.clone(), version: args.version.clone(), set },
    )
}
