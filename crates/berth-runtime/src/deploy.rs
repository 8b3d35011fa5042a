//! Zero-downtime deploys: start the new replicas, wait until they are ready
//! (or give up and keep the old ones: automatic rollback), swap the edge's
//! backends atomically, drain the old replicas (in-flight requests finish,
//! WebSockets close at the drain timeout), then stop them.
//!
//! Rolling replaces `batch` replicas at a time; blue-green starts a full new
//! set; canary starts one new replica that gets `canary_weight` percent of
//! the traffic until `promote` or `rollback`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use berth_spec::Strategy;
use serde::{Deserialize, Serialize};

use crate::supervisor::{self, Replica};
use crate::{Running, RuntimeError, ServiceRun};

/// What `berth deploy`, `promote` and `rollback` ask of a running stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Deploy {
        service: Option<String>,
        version: Option<String>,
        /// Extra environment for the new replicas.
        #[serde(default)]
        set: BTreeMap<String, String>,
    },
    Promote {
        service: String,
    },
    Rollback {
        service: String,
    },
}

/// Receives one line of progress at a time.
pub type Progress<'a> = &'a mut (dyn FnMut(String) + Send);

fn versions_path(running: &Running) -> std::path::PathBuf {
    running.state_dir.join("versions.json")
}

/// The versions running now, read back by the next `berth up`.
fn save_versions(running: &Running) {
    let versions: BTreeMap<&String, Option<&String>> = running
        .services
        .iter()
        .map(|(name, run)| (name, run.replicas.first().and_then(|r| r.version.as_ref())))
        .collect();
    if let Ok(json) = serde_json::to_string_pretty(&versions) {
        let _ = std::fs::write(versions_path(running), json);
    }
}

pub fn saved_versions(state_dir: &std::path::Path) -> BTreeMap<String, Option<String>> {
    std::fs::read_to_string(state_dir.join("versions.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn label(version: Option<&String>) -> String {
    version.map_or_else(|| "the spec's version".to_owned(), |v| format!("version {v}"))
}

impl Running {
    pub async fn execute(&mut self, command: Command, progress: Progress<'_>) -> Result<(), RuntimeError> {
        let result = match command {
            Command::Deploy { service, version, set } => {
                let names: Vec<String> = match service {
                    Some(s) if self.services.contains_key(&s) => vec![s],
                    Some(s) => return Err(RuntimeError::Deploy(format!("no service named `{s}` is running"))),
                    None => self.services.keys().cloned().collect(),
                };
                let mut result = Ok(());
                for name in names {
                    result = self.deploy(&name, version.clone(), &set, progress).await;
                    if result.is_err() {
                        break;
                    }
                }
                result
            }
            Command::Promote { service } => self.promote(&service, progress).await,
            Command::Rollback { service } => self.rollback(&service, progress).await,
        };
        save_versions(self);
        result
    }

    fn run_mut(&mut self, name: &str) -> Result<&mut ServiceRun, RuntimeError> {
        self.services.get_mut(name).ok_or_else(|| RuntimeError::Deploy(format!("no service named `{name}` is running")))
    }

    /// Starts `count` replicas of `version` and waits until all are ready.
    /// On failure the ones started are stopped and the error returned.
    async fn start_ready(
        &mut self,
        name: &str,
        count: usize,
        version: &Option<String>,
        set: &BTreeMap<String, String>,
        progress: Progress<'_>,
    ) -> Result<Vec<Replica>, RuntimeError> {
        let state = self.state.clone();
        let run = self.run_mut(name)?;
        let mut fresh = Vec::new();
        for _ in 0..count {
            let replica = run.spawn(version.clone(), set, &state)?;
            progress(format!("{name}: started replica {} ({})", replica.index, label(version.as_ref())));
            fresh.push(replica);
        }
        let timeout = run.template.service.deploy.health_timeout;
        progress(format!("{name}: waiting up to {timeout} for readiness"));
        // All at once, within one timeout: n replicas never take n timeouts.
        if let Err(error) = run.ready_all(&fresh).await {
            progress(format!("{name}: {error}; stopping the new replicas, the old ones keep serving"));
            for r in fresh {
                supervisor::forget(&state, &r);
                r.stop().await;
            }
            return Err(RuntimeError::Deploy(format!("{error}; rolled back automatically")));
        }
        progress(format!(
            "{name}: replica(s) {} ready",
            fresh.iter().map(|r| r.index.to_string()).collect::<Vec<_>>().join(", ")
        ));
        Ok(fresh)
    }

    /// Points the edge at `stable` (+ `canary`), then drains and stops `leaving`.
    async fn swap(
        &mut self,
        name: &str,
        canary_percent: usize,
        leaving: Vec<Replica>,
        progress: Progress<'_>,
    ) -> Result<(), RuntimeError> {
        let run = self.services.get(name).ok_or_else(|| RuntimeError::Deploy(format!("no service `{name}`")))?;
        let drain = run.template.service.deploy.drain_timeout.0;
        let mut retired = Vec::new();
        if let Some(edge) = &self.edge {
            for port in &run.template.service.ports {
                let stable = Self::addresses(&run.replicas, &port.name);
                let canary = Self::addresses(&run.canary, &port.name);
                retired.extend(edge.set_backends(name, port.port, &stable, &canary, canary_percent));
            }
        }
        progress(format!(
            "{name}: traffic switched; draining {} old replica(s) for up to {}s",
            leaving.len(),
            drain.as_secs()
        ));
        let deadline = Instant::now() + drain;
        while retired.iter().any(|b| b.in_flight() > 0) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // WebSockets still open get a Close frame (1001) before their
        // replica stops, rather than a cut connection.
        for backend in &retired {
            backend.close_tunnels();
        }
        if retired.iter().any(|b| b.in_flight() > 0) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for replica in leaving {
            supervisor::forget(&self.state, &replica);
            progress(format!("{name}: stopping replica {}", replica.index));
            replica.stop().await;
        }
        Ok(())
    }

    async fn deploy(
        &mut self,
        name: &str,
        version: Option<String>,
        set: &BTreeMap<String, String>,
        progress: Progress<'_>,
    ) -> Result<(), RuntimeError> {
        let strategy = self.run_mut(name)?.template.service.deploy.strategy;
        self.deploy_as(name, version, set, strategy, progress).await
    }

    /// A deploy with the given strategy: rollbacks replace every replica
    /// whatever the service's strategy (a canary rollback would leave most
    /// traffic on the version being rolled back).
    async fn deploy_as(
        &mut self,
        name: &str,
        version: Option<String>,
        set: &BTreeMap<String, String>,
        strategy: Strategy,
        progress: Progress<'_>,
    ) -> Result<(), RuntimeError> {
        let run = self.run_mut(name)?;
        if !run.canary.is_empty() {
            return Err(RuntimeError::Deploy(format!(
                "a canary of `{name}` is waiting: `berth promote {name}` or `berth rollback {name}` first"
            )));
        }
        let plan = run.template.service.deploy.clone();
        let old_version = run.replicas.first().and_then(|r| r.version.clone());
        let total = run.replicas.len();
        progress(format!("{name}: deploying {} ({strategy:?}, {total} replica(s))", label(version.as_ref())));
        match strategy {
            Strategy::BlueGreen => {
                let fresh = self.start_ready(name, total, &version, set, progress).await?;
                let run = self.run_mut(name)?;
                let leaving = std::mem::replace(&mut run.replicas, fresh);
                self.swap(name, 0, leaving, progress).await?;
            }
            Strategy::Rolling => {
                let batch = usize::try_from(plan.batch.max(1)).unwrap_or(1);
                let mut replaced = 0;
                while replaced < total {
                    let count = batch.min(total - replaced);
                    let fresh = match self.start_ready(name, count, &version, set, progress).await {
                        Ok(f) => f,
                        Err(error) if replaced > 0 && plan.auto_rollback => {
                            progress(format!(
                                "{name}: returning the replaced replicas to {}",
                                label(old_version.as_ref())
                            ));
                            let back = Box::pin(self.deploy_as(
                                name,
                                old_version.clone(),
                                &BTreeMap::new(),
                                Strategy::BlueGreen,
                                progress,
                            ))
                            .await;
                            return Err(match back {
                                Ok(()) => error,
                                Err(failed) => RuntimeError::Deploy(format!(
                                    "{error}; the automatic rollback to {} failed too ({failed}): \
                                     {replaced} replica(s) run the new version",
                                    label(old_version.as_ref())
                                )),
                            });
                        }
                        Err(error) => return Err(error),
                    };
                    let run = self.run_mut(name)?;
                    // New replicas join at the back, so the front holds the oldest.
                    let leaving: Vec<Replica> = run.replicas.drain(..count.min(run.replicas.len())).collect();
                    run.replicas.extend(fresh);
                    self.swap(name, 0, leaving, progress).await?;
                    replaced += count;
                }
            }
            Strategy::Canary => {
                let weight = plan.canary_weight.map_or(10, |w| w.0.round() as usize);
                let fresh = self.start_ready(name, 1, &version, set, progress).await?;
                let run = self.run_mut(name)?;
                run.canary = fresh;
                run.canary_set = set.clone();
                self.swap(name, weight, Vec::new(), progress).await?;
                progress(format!(
                    "{name}: canary takes {weight}% of requests; `berth promote {name}` or `berth rollback {name}`"
                ));
            }
        }
        self.run_mut(name)?.previous = Some(old_version);
        progress(format!("{name}: deployed {}", label(version.as_ref())));
        Ok(())
    }

    async fn promote(&mut self, name: &str, progress: Progress<'_>) -> Result<(), RuntimeError> {
        let run = self.run_mut(name)?;
        let Some(version) = run.canary.first().map(|r| r.version.clone()) else {
            return Err(RuntimeError::Deploy(format!("no canary of `{name}` is waiting")));
        };
        let missing = run.replicas.len().saturating_sub(run.canary.len());
        // The rest start as the canary did, with its `--set` settings.
        let set = std::mem::take(&mut run.canary_set);
        let fresh = self.start_ready(name, missing, &version, &set, progress).await?;
        let run = self.run_mut(name)?;
        let mut next = std::mem::take(&mut run.canary);
        next.extend(fresh);
        let leaving = std::mem::replace(&mut run.replicas, next);
        self.swap(name, 0, leaving, progress).await?;
        progress(format!("{name}: promoted {}", label(version.as_ref())));
        Ok(())
    }

    async fn rollback(&mut self, name: &str, progress: Progress<'_>) -> Result<(), RuntimeError> {
        let run = self.run_mut(name)?;
        if !run.canary.is_empty() {
            let leaving = std::mem::take(&mut run.canary);
            run.canary_set.clear();
            self.swap(name, 0, leaving, progress).await?;
            progress(format!("{name}: canary rolled back"));
            return Ok(());
        }
        let Some(previous) = run.previous.clone() else {
            return Err(RuntimeError::Deploy(format!("`{name}` has no earlier version to return to")));
        };
        progress(format!("{name}: rolling back to {}", label(previous.as_ref())));
        self.deploy_as(name, previous, &BTreeMap::new(), Strategy::BlueGreen, progress).await
    }
}
