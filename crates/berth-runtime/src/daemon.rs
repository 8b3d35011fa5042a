//! `berth up` after the stack is ready, until it is told to stop: the
//! control socket (deploys, one at a time), signals (SIGINT/SIGTERM stop,
//! SIGHUP reopens the access log), and log rotation. Then the graceful
//! stop: drain the edge, stop replicas, then servers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Mutex;

use crate::control::{Command, Reply};
use crate::{Due, Running, RuntimeError, io, logs};

/// The control socket of the stack in `state_dir`.
pub fn control_socket(state_dir: &Path) -> PathBuf {
    state_dir.join("control.sock")
}

/// The bound control socket: bound before `berth up` says it is ready, so
/// a `berth deploy` right after finds it.
#[derive(Debug)]
pub struct Control {
    socket: PathBuf,
    listener: tokio::net::UnixListener,
}

/// Binds the control socket of the stack in `state_dir`.
pub fn listen(state_dir: &Path) -> Result<Control, RuntimeError> {
    let socket = control_socket(state_dir);
    let _ = std::fs::remove_file(&socket);
    let listener =
        tokio::net::UnixListener::bind(&socket).map_err(io(format!("cannot listen on {}", socket.display())))?;
    Ok(Control { socket, listener })
}

/// Serves the control socket and signals until SIGINT or SIGTERM, then
/// stops the stack.
pub async fn serve(running: Running, state_dir: &Path, control: Control) -> Result<(), RuntimeError> {
    let Control { socket, listener } = control;
    let mut terminate = signal(SignalKind::terminate()).map_err(io("cannot watch SIGTERM"))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io("cannot watch SIGINT"))?;
    let mut hangup = signal(SignalKind::hangup()).map_err(io("cannot watch SIGHUP"))?;
    let logs_dir = state_dir.join("logs");
    let mut rotation = tokio::time::interval(logs::CHECK_EVERY);
    let running = Arc::new(Mutex::new(Some(running)));
    let scheduler = tokio::spawn(schedule(running.clone()));
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => {
                if let Some(r) = running.lock().await.as_ref() {
                    r.reopen_logs();
                }
            }
            _ = rotation.tick() => {
                let dir = logs_dir.clone();
                let _ = tokio::task::spawn_blocking(move || logs::rotate(&dir, logs::MAX_BYTES, logs::KEEP)).await;
            }
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve_control(stream, running.clone()));
                }
            }
        }
    }
    let _ = std::fs::remove_file(&socket);
    scheduler.abort();
    if let Some(running) = running.lock().await.take() {
        running.down().await;
    }
    Ok(())
}

/// Runs scheduled jobs and backups when they are due, each in its own
/// task; one still running when it is due again skips that run. A
/// failure is in its log; the stack keeps running.
async fn schedule(running: Arc<Mutex<Option<Running>>>) {
    let entries = match running.lock().await.as_ref() {
        Some(r) => r.scheduled(),
        None => return,
    };
    if entries.is_empty() {
        return;
    }
    let busy: Arc<std::sync::Mutex<std::collections::BTreeSet<Due>>> = Arc::default();
    loop {
        let now = jiff::Timestamp::now();
        let next: Vec<(jiff::Timestamp, &Due)> =
            entries.iter().filter_map(|(due, s)| Some((crate::jobs::next_run(s, now)?, due))).collect();
        let Some(when) = next.iter().map(|(t, _)| *t).min() else { return };
        let due: Vec<Due> = next.iter().filter(|(t, _)| *t == when).map(|(_, d)| (*d).clone()).collect();
        let wait = (when - now).total(jiff::Unit::Millisecond).unwrap_or(0.0).max(0.0);
        tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
        for item in due {
            let task = {
                let guard = running.lock().await;
                let Some(r) = guard.as_ref() else { continue };
                match &item {
                    Due::Job(name) => r.job(name).map(|(template, job, version)| {
                        Box::pin(async move {
                            let none = std::collections::BTreeMap::new();
                            let _ = crate::jobs::run(&template, &job, version.as_deref(), &none).await;
                        }) as futures_util::future::BoxFuture<'static, ()>
                    }),
                    Due::Backup(name) => r.backup(name).map(|(backup, spec, logs)| {
                        Box::pin(async move {
                            crate::backups::run(&backup, &spec, &logs).await;
                        }) as futures_util::future::BoxFuture<'static, ()>
                    }),
                }
            };
            let Some(task) = task else { continue };
            if !busy.lock().map(|mut b| b.insert(item.clone())).unwrap_or(false) {
                continue;
            }
            let busy = busy.clone();
            tokio::spawn(async move {
                task.await;
                if let Ok(mut b) = busy.lock() {
                    b.remove(&item);
                }
            });
        }
    }
}

/// One control connection: a command in, progress and a final reply out.
/// Commands run one at a time (the lock).
async fn serve_control(stream: tokio::net::UnixStream, running: Arc<Mutex<Option<Running>>>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    if tokio::io::BufReader::new(read).read_line(&mut line).await.is_err() {
        return;
    }
    let command: Command = match serde_json::from_str(&line) {
        Ok(c) => c,
        Err(e) => {
            let _ = write.write_all(Reply::Failed { error: format!("bad command: {e}") }.to_line().as_bytes()).await;
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Reply>();
    let forward = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            if write.write_all(reply.to_line().as_bytes()).await.is_err() {
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
                    let _ = progress_tx.send(Reply::Progress { line });
                };
                running.execute(command, &mut progress).await.map_err(|e| e.to_string())
            }
            None => Err("the stack is stopping".to_owned()),
        }
    };
    let _ = tx.send(match result {
        Ok(()) => Reply::Done,
        Err(error) => Reply::Failed { error },
    });
    drop(tx);
    let _ = forward.await;
}
