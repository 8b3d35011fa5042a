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
    /// Runs a job now, with its service's running version.
    Run {
        job: String,
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

/// Where a deploy's steps act: the running stack (processes and the
/// edge), or a fake in tests. The state machine (strategies, batches,
/// automatic rollback, canaries) is written once against it.
pub(crate) trait Fleet {
    type Replica: Versioned;

    /// The deploy settings and replica sets of a service.
    fn service(&mut self, name: &str) -> Result<Slots<'_, Self::Replica>, RuntimeError>;

    /// Starts `count` replicas of `version` and waits until all are ready;
    /// on failure stops them and returns the error.
    async fn start_ready(
        &mut self,
        name: &str,
        count: usize,
        version: &Option<String>,
        set: &BTreeMap<String, String>,
        progress: Progress<'_>,
    ) -> Result<Vec<Self::Replica>, RuntimeError>;

    /// Runs the service's deploy gates (`before_deploy` jobs) with the new
    /// version and settings; an error stops the deploy before any replica
    /// of the new version starts.
    async fn gate(
        &mut self,
        name: &str,
        version: &Option<String>,
        set: &BTreeMap<String, String>,
        progress: Progress<'_>,
    ) -> Result<(), RuntimeError>;

    /// Points traffic at the service's replicas (and canary, with
    /// `canary_percent`), then drains and stops `leaving`.
    async fn swap(
        &mut self,
        name: &str,
        canary_percent: usize,
        leaving: Vec<Self::Replica>,
        progress: Progress<'_>,
    ) -> Result<(), RuntimeError>;
}

/// A replica's version.
pub(crate) trait Versioned {
    fn version(&self) -> Option<String>;
}

impl Versioned for Replica {
    fn version(&self) -> Option<String> {
        self.version.clone()
    }
}

/// A service's replica sets, borrowed for one step of the state machine.
pub(crate) struct Slots<'a, R> {
    pub plan: berth_plan::DeployPlan,
    pub replicas: &'a mut Vec<R>,
    /// Replicas of a canary deploy, waiting for promote or rollback.
    pub canary: &'a mut Vec<R>,
    /// The canary's `--set` settings, which promote gives the rest.
    pub canary_set: &'a mut BTreeMap<String, String>,
    /// The version before the last deploy, for rollback.
    pub previous: &'a mut Option<Option<String>>,
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
                    let strategy = self.run_mut(&name)?.template.service.deploy.strategy;
                    result = deploy_gated(self, &name, version.clone(), &set, strategy, progress).await;
                    if result.is_err() {
                        break;
                    }
                }
                result
            }
            Command::Promote { service } => promote(self, &service, progress).await,
            Command::Rollback { service } => rollback(self, &service, progress).await,
            Command::Run { job } => self.run_job(&job, progress).await,
        };
        save_versions(self);
        result
    }

    fn run_mut(&mut self, name: &str) -> Result<&mut ServiceRun, RuntimeError> {
        self.services.get_mut(name).ok_or_else(|| RuntimeError::Deploy(format!("no service named `{name}` is running")))
    }
}

impl Fleet for Running {
    type Replica = Replica;

    fn service(&mut self, name: &str) -> Result<Slots<'_, Replica>, RuntimeError> {
        let run = self.run_mut(name)?;
        Ok(Slots {
            plan: run.template.service.deploy.clone(),
            replicas: &mut run.replicas,
            canary: &mut run.canary,
            canary_set: &mut run.canary_set,
            previous: &mut run.previous,
        })
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

    async fn gate(
        &mut self,
        name: &str,
        version: &Option<String>,
        set: &BTreeMap<String, String>,
        progress: Progress<'_>,
    ) -> Result<(), RuntimeError> {
        let run = self.run_mut(name)?;
        for job in run.template.service.gates() {
            progress(format!("{name}: running job {} ({}) before the switch", job.name, label(version.as_ref())));
            crate::jobs::run(&run.template, job, version.as_deref(), set).await.inspect_err(|e| {
                progress(format!("{name}: {e}; the deploy stops and the running version keeps serving"));
            })?;
            progress(format!("{name}: job {} succeeded", job.name));
        }
        Ok(())
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
}

/// A new deploy waits until a canary is promoted or rolled back.
fn no_waiting_canary<F: Fleet>(fleet: &mut F, name: &str) -> Result<(), RuntimeError> {
    if fleet.service(name)?.canary.is_empty() {
        return Ok(());
    }
    Err(RuntimeError::Deploy(format!(
        "a canary of `{name}` is waiting: `berth promote {name}` or `berth rollback {name}` first"
    )))
}

/// A deploy: the service's gates with the new version, then the strategy.
async fn deploy_gated<F: Fleet>(
    fleet: &mut F,
    name: &str,
    version: Option<String>,
    set: &BTreeMap<String, String>,
    strategy: Strategy,
    progress: Progress<'_>,
) -> Result<(), RuntimeError> {
    no_waiting_canary(fleet, name)?;
    fleet.gate(name, &version, set, progress).await?;
    deploy_as(fleet, name, version, set, strategy, progress).await
}

/// A deploy with the given strategy: rollbacks replace every replica
/// whatever the service's strategy (a canary rollback would leave most
/// traffic on the version being rolled back).
async fn deploy_as<F: Fleet>(
    fleet: &mut F,
    name: &str,
    version: Option<String>,
    set: &BTreeMap<String, String>,
    strategy: Strategy,
    progress: Progress<'_>,
) -> Result<(), RuntimeError> {
    no_waiting_canary(fleet, name)?;
    let run = fleet.service(name)?;
    let plan = run.plan.clone();
    let old_version = run.replicas.first().and_then(|r| r.version());
    let total = run.replicas.len();
    progress(format!("{name}: deploying {} ({strategy:?}, {total} replica(s))", label(version.as_ref())));
    match strategy {
        Strategy::BlueGreen => {
            let fresh = fleet.start_ready(name, total, &version, set, progress).await?;
            let run = fleet.service(name)?;
            let leaving = std::mem::replace(run.replicas, fresh);
            fleet.swap(name, 0, leaving, progress).await?;
        }
        Strategy::Rolling => {
            let batch = usize::try_from(plan.batch.max(1)).unwrap_or(1);
            let mut replaced = 0;
            while replaced < total {
                let count = batch.min(total - replaced);
                let fresh = match fleet.start_ready(name, count, &version, set, progress).await {
                    Ok(f) => f,
                    Err(error) if replaced > 0 && plan.auto_rollback => {
                        progress(format!("{name}: returning the replaced replicas to {}", label(old_version.as_ref())));
                        let back = Box::pin(deploy_as(
                            fleet,
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
                let run = fleet.service(name)?;
                // New replicas join at the back, so the front holds the oldest.
                let leaving: Vec<F::Replica> = run.replicas.drain(..count.min(run.replicas.len())).collect();
                run.replicas.extend(fresh);
                fleet.swap(name, 0, leaving, progress).await?;
                replaced += count;
            }
        }
        Strategy::Canary => {
            let weight = plan.canary_weight.map_or(10, |w| w.0.round() as usize);
            let fresh = fleet.start_ready(name, 1, &version, set, progress).await?;
            let run = fleet.service(name)?;
            *run.canary = fresh;
            *run.canary_set = set.clone();
            fleet.swap(name, weight, Vec::new(), progress).await?;
            progress(format!(
                "{name}: canary takes {weight}% of requests; `berth promote {name}` or `berth rollback {name}`"
            ));
        }
    }
    *fleet.service(name)?.previous = Some(old_version);
    progress(format!("{name}: deployed {}", label(version.as_ref())));
    Ok(())
}

async fn promote<F: Fleet>(fleet: &mut F, name: &str, progress: Progress<'_>) -> Result<(), RuntimeError> {
    let run = fleet.service(name)?;
    let Some(version) = run.canary.first().map(|r| r.version()) else {
        return Err(RuntimeError::Deploy(format!("no canary of `{name}` is waiting")));
    };
    let missing = run.replicas.len().saturating_sub(run.canary.len());
    // The rest start as the canary did, with its `--set` settings.
    let set = std::mem::take(run.canary_set);
    let fresh = fleet.start_ready(name, missing, &version, &set, progress).await?;
    let run = fleet.service(name)?;
    let mut next = std::mem::take(run.canary);
    next.extend(fresh);
    let leaving = std::mem::replace(run.replicas, next);
    fleet.swap(name, 0, leaving, progress).await?;
    progress(format!("{name}: promoted {}", label(version.as_ref())));
    Ok(())
}

async fn rollback<F: Fleet>(fleet: &mut F, name: &str, progress: Progress<'_>) -> Result<(), RuntimeError> {
    let run = fleet.service(name)?;
    if !run.canary.is_empty() {
        let leaving = std::mem::take(run.canary);
        run.canary_set.clear();
        fleet.swap(name, 0, leaving, progress).await?;
        progress(format!("{name}: canary rolled back"));
        return Ok(());
    }
    let Some(previous) = run.previous.clone() else {
        return Err(RuntimeError::Deploy(format!("`{name}` has no earlier version to return to")));
    };
    progress(format!("{name}: rolling back to {}", label(previous.as_ref())));
    deploy_as(fleet, name, previous, &BTreeMap::new(), Strategy::BlueGreen, progress).await
}

#[cfg(test)]
mod tests {
    //! The state machine against a fake fleet: no processes, milliseconds.

    use super::*;
    use berth_plan::DeployPlan;
    use berth_spec::model::units::{Duration as SpecDuration, Percent};

    #[derive(Debug, Clone, PartialEq)]
    struct Fake(Option<String>);

    impl Versioned for Fake {
        fn version(&self) -> Option<String> {
            self.0.clone()
        }
    }

    #[derive(Debug, Default)]
    struct Service {
        plan: Option<DeployPlan>,
        replicas: Vec<Fake>,
        canary: Vec<Fake>,
        canary_set: BTreeMap<String, String>,
        previous: Option<Option<String>>,
    }

    /// One service; versions in `broken` never become ready.
    #[derive(Debug, Default)]
    struct FakeFleet {
        web: Service,
        broken: Vec<String>,
        /// What happened, in order: `start v2 x1`, `swap 10% -1`, ...
        log: Vec<String>,
        /// Versions whose deploy gate (migration) fails.
        failing_gate: Vec<String>,
        /// The versions gates ran for, in order.
        gated: Vec<String>,
    }

    impl Fleet for FakeFleet {
        type Replica = Fake;

        fn service(&mut self, name: &str) -> Result<Slots<'_, Fake>, RuntimeError> {
            assert_eq!(name, "web");
            let s = &mut self.web;
            Ok(Slots {
                plan: s.plan.clone().unwrap(),
                replicas: &mut s.replicas,
                canary: &mut s.canary,
                canary_set: &mut s.canary_set,
                previous: &mut s.previous,
            })
        }

        async fn start_ready(
            &mut self,
            _: &str,
            count: usize,
            version: &Option<String>,
            _: &BTreeMap<String, String>,
            _: Progress<'_>,
        ) -> Result<Vec<Fake>, RuntimeError> {
            let v = version.clone().unwrap_or_default();
            self.log.push(format!("start {v} x{count}"));
            if self.broken.contains(&v) {
                return Err(RuntimeError::Deploy(format!("{v} never ready")));
            }
            Ok(vec![Fake(version.clone()); count])
        }

        async fn gate(
            &mut self,
            _: &str,
            version: &Option<String>,
            _: &BTreeMap<String, String>,
            _: Progress<'_>,
        ) -> Result<(), RuntimeError> {
            let v = version.clone().unwrap_or_default();
            self.gated.push(v.clone());
            if self.failing_gate.contains(&v) {
                return Err(RuntimeError::Deploy(format!("migration of {v} failed")));
            }
            Ok(())
        }

        async fn swap(
            &mut self,
            _: &str,
            canary: usize,
            leaving: Vec<Fake>,
            _: Progress<'_>,
        ) -> Result<(), RuntimeError> {
            self.log.push(format!("swap {canary}% -{}", leaving.len()));
            Ok(())
        }
    }

    fn fleet(strategy: Strategy, replicas: usize) -> FakeFleet {
        let plan = DeployPlan {
            strategy,
            batch: 1,
            canary_weight: Some(Percent(25.0)),
            health_timeout: SpecDuration::secs(1),
            drain_timeout: SpecDuration::secs(1),
            auto_rollback: true,
        };
        FakeFleet {
            web: Service { plan: Some(plan), replicas: vec![Fake(Some("v1".into())); replicas], ..Service::default() },
            ..FakeFleet::default()
        }
    }

    fn versions(f: &FakeFleet) -> Vec<String> {
        f.web.replicas.iter().map(|r| r.0.clone().unwrap_or_default()).collect()
    }

    async fn deploy(f: &mut FakeFleet, version: &str) -> Result<(), RuntimeError> {
        let strategy = f.web.plan.as_ref().unwrap().strategy;
        deploy_gated(f, "web", Some(version.into()), &BTreeMap::new(), strategy, &mut |_| {}).await
    }

    #[tokio::test]
    async fn a_failed_gate_stops_the_deploy_before_any_new_replica() {
        for strategy in [Strategy::Rolling, Strategy::BlueGreen, Strategy::Canary] {
            let mut f = fleet(strategy, 2);
            f.failing_gate.push("v2".into());
            assert!(deploy(&mut f, "v2").await.is_err());
            assert_eq!(f.gated, ["v2"], "{strategy:?}");
            assert!(f.log.is_empty(), "no replica started or swapped: {:?}", f.log);
            assert_eq!(versions(&f), ["v1", "v1"]);
            deploy(&mut f, "v3").await.unwrap();
            assert_eq!(f.gated, ["v2", "v3"], "{strategy:?}");
            assert!(f.log.first().is_some_and(|l| l.starts_with("start v3")), "{strategy:?}: {:?}", f.log);
        }
    }

    #[tokio::test]
    async fn rolling_replaces_one_batch_at_a_time() {
        let mut f = fleet(Strategy::Rolling, 3);
        deploy(&mut f, "v2").await.unwrap();
        assert_eq!(versions(&f), ["v2", "v2", "v2"]);
        assert_eq!(f.log, ["start v2 x1", "swap 0% -1", "start v2 x1", "swap 0% -1", "start v2 x1", "swap 0% -1"]);
        assert_eq!(f.web.previous, Some(Some("v1".into())));
    }

    #[tokio::test]
    async fn a_rolling_deploy_whose_first_batch_fails_changes_nothing() {
        let mut f = fleet(Strategy::Rolling, 3);
        f.broken = vec!["v2".into()];
        let err = deploy(&mut f, "v2").await.unwrap_err();
        assert!(err.to_string().contains("never ready"), "{err}");
        assert_eq!(versions(&f), ["v1", "v1", "v1"], "nothing runs the broken version");
        assert_eq!(f.log, ["start v2 x1"], "no swap, no rollback needed");
        assert_eq!(f.web.previous, None, "a failed deploy is not a version to return to");
    }

    #[tokio::test]
    async fn rolling_failure_after_a_replaced_batch_rolls_back_to_the_old_version() {
        let mut f = fleet(Strategy::Rolling, 3);
        // The first start works, the second fails (v2 breaks after one replica).
        struct Flaky(FakeFleet, usize);
        impl Fleet for Flaky {
            type Replica = Fake;
            fn service(&mut self, name: &str) -> Result<Slots<'_, Fake>, RuntimeError> {
                self.0.service(name)
            }
            async fn start_ready(
                &mut self,
                name: &str,
                count: usize,
                version: &Option<String>,
                set: &BTreeMap<String, String>,
                p: Progress<'_>,
            ) -> Result<Vec<Fake>, RuntimeError> {
                self.1 += 1;
                if self.1 == 2 {
                    self.0.log.push("start v2 x1 (fails)".into());
                    return Err(RuntimeError::Deploy("v2 never ready".into()));
                }
                self.0.start_ready(name, count, version, set, p).await
            }
            async fn gate(
                &mut self,
                name: &str,
                version: &Option<String>,
                set: &BTreeMap<String, String>,
                p: Progress<'_>,
            ) -> Result<(), RuntimeError> {
                self.0.gate(name, version, set, p).await
            }
            async fn swap(&mut self, n: &str, c: usize, l: Vec<Fake>, p: Progress<'_>) -> Result<(), RuntimeError> {
                self.0.swap(n, c, l, p).await
            }
        }
        f.web.plan.as_mut().unwrap().strategy = Strategy::Rolling;
        let mut flaky = Flaky(f, 0);
        let err = deploy_as(&mut flaky, "web", Some("v2".into()), &BTreeMap::new(), Strategy::Rolling, &mut |_| {})
            .await
            .unwrap_err();
        assert!(err.to_string().contains("never ready"), "{err}");
        assert_eq!(versions(&flaky.0), ["v1", "v1", "v1"], "the replaced replica went back to v1");
        assert_eq!(flaky.0.log, ["start v2 x1", "swap 0% -1", "start v2 x1 (fails)", "start v1 x3", "swap 0% -3"]);
    }

    #[tokio::test]
    async fn blue_green_keeps_the_old_set_when_the_new_one_fails() {
        let mut f = fleet(Strategy::BlueGreen, 2);
        f.broken = vec!["v2".into()];
        assert!(deploy(&mut f, "v2").await.is_err());
        assert_eq!(versions(&f), ["v1", "v1"]);
        assert_eq!(f.log, ["start v2 x2"], "no swap: the old set never stopped serving");
        f.broken.clear();
        deploy(&mut f, "v2").await.unwrap();
        assert_eq!(versions(&f), ["v2", "v2"]);
    }

    #[tokio::test]
    async fn a_canary_waits_for_promote_or_rollback() {
        let mut f = fleet(Strategy::Canary, 3);
        deploy(&mut f, "v2").await.unwrap();
        assert_eq!(f.web.canary, [Fake(Some("v2".into()))]);
        assert_eq!(f.log.last().unwrap(), "swap 25% -0");
        assert!(deploy(&mut f, "v3").await.is_err(), "a second deploy waits for the canary's fate");
        promote(&mut f, "web", &mut |_| {}).await.unwrap();
        assert_eq!(versions(&f), ["v2", "v2", "v2"]);
        assert!(f.web.canary.is_empty());
        assert_eq!(f.log.last().unwrap(), "swap 0% -3");

        deploy(&mut f, "v3").await.unwrap();
        rollback(&mut f, "web", &mut |_| {}).await.unwrap();
        assert!(f.web.canary.is_empty(), "the canary is gone");
        assert_eq!(versions(&f), ["v2", "v2", "v2"], "the rest never left v2");
    }

    #[tokio::test]
    async fn rollback_returns_every_replica_to_the_previous_version() {
        let mut f = fleet(Strategy::Rolling, 2);
        deploy(&mut f, "v2").await.unwrap();
        f.log.clear();
        rollback(&mut f, "web", &mut |_| {}).await.unwrap();
        assert_eq!(versions(&f), ["v1", "v1"]);
        assert_eq!(f.log, ["start v1 x2", "swap 0% -2"], "blue-green whatever the strategy");
        let mut fresh = fleet(Strategy::Rolling, 1);
        assert!(rollback(&mut fresh, "web", &mut |_| {}).await.is_err(), "nothing to return to");
    }
}
