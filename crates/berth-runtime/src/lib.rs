//! `berth up` on one machine: every service's replicas as supervised
//! processes on loopback ports, gated by their readiness checks, behind the
//! berth edge. State, logs and the edge's certificate live under a state
//! directory next to the spec, so `berth status`, `logs`, `down` and
//! `deploy` find them.

mod backups;
pub mod control;
pub mod daemon;
mod dependency;
mod deploy;
pub mod gateway;
pub mod jobs;
pub mod logs;
pub mod probe;
pub mod state;
mod supervisor;
pub mod users;
pub mod volumes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_edge::config::Inputs;
use berth_edge::{Edge, EdgeConfig, EdgeHandle};
use berth_plan::{EnvValue, Plan, ServicePlan};

pub use berth_process::{ProcessError, namespace, process, programs};
pub use dependency::wal_spool;
pub use deploy::{Command as DeployCommand, Progress};
pub use process::{alive, terminate, terminate_group};
pub use state::{Found, ReplicaState, StateFile};
use supervisor::{Replica, ReplicaSpec};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    Unsupported(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("service `{service}` replica {replica} did not become ready within {timeout:?}; its log is {log}")]
    NotReady { service: String, replica: u32, timeout: Duration, log: String },
    #[error("secret `{0}` has no value: set {1}")]
    MissingSecret(String, String),
    #[error("{0}")]
    Deploy(String),
    #[error("job `{job}` of `{service}` failed: {reason}; its log is {log}")]
    Job { job: String, service: String, reason: String, log: String },
    #[error(transparent)]
    Edge(#[from] berth_edge::EdgeError),
    #[error(transparent)]
    Process(#[from] ProcessError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let what = what.into();
    move |source| RuntimeError::Io { what, source }
}

/// Where a secret's value comes from when berth runs the stack itself.
pub type SecretLookup = dyn Fn(&berth_plan::SecretPlan) -> Option<String> + Send + Sync;

pub struct Options {
    /// The spec's directory: relative commands and workdirs start here.
    pub spec_dir: PathBuf,
    /// The spec itself, absolute: scheduled backups run `berth backup`
    /// on it.
    pub spec_file: PathBuf,
    pub state_dir: PathBuf,
    pub secrets: Box<SecretLookup>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("spec_dir", &self.spec_dir)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

/// What every replica of a service is started from.
#[derive(Debug, Clone)]
struct Template {
    service: ServicePlan,
    command: Vec<String>,
    workdir: PathBuf,
    env: BTreeMap<String, String>,
    logs: PathBuf,
    stop_timeout: Duration,
    /// Where the service's volumes live (`<state>/volumes/<service>`).
    state_dir: PathBuf,
    /// Who its programs run as ([`users::service_user`]).
    user: Option<process::RunAs>,
}

/// A service's live replicas.
#[derive(Debug)]
struct ServiceRun {
    template: Template,
    replicas: Vec<Replica>,
    next_index: u32,
    /// Replicas of a canary deploy, waiting for promote or rollback.
    canary: Vec<Replica>,
    /// The canary's `--set` settings, which promote gives the rest.
    canary_set: BTreeMap<String, String>,
    /// The version before the last deploy, for `berth rollback`.
    previous: Option<Option<String>>,
}

impl ServiceRun {
    /// Starts one more replica on fresh loopback ports.
    fn spawn(
        &mut self,
        version: Option<String>,
        extra: &BTreeMap<String, String>,
        state: &Arc<state::Shared>,
    ) -> Result<Replica, RuntimeError> {
        let mut ports = BTreeMap::new();
        for port in &self.template.service.ports {
            ports.insert(port.name.clone(), process::free_port().map_err(io("cannot find a free loopback port"))?);
        }
        let index = self.next_index;
        self.next_index += 1;
        let mut env = self.template.env.clone();
        env.extend(extra.clone());
        let spec = ReplicaSpec {
            service: self.template.service.name.clone(),
            index,
            command: self.template.command.clone(),
            workdir: self.template.workdir.clone(),
            env,
            primary: self.template.service.primary_port.as_ref().and_then(|p| ports.get(&p.name).copied()),
            ports,
            log: self.template.logs.join(format!("{}-{index}.log", self.template.service.name)),
            stop_timeout: self.template.stop_timeout,
            version,
            run_as: self.template.user,
            startup: self.template.service.probes.startup.clone(),
            liveness: self.template.service.probes.liveness.clone(),
            volumes: self.template.service.volumes.clone(),
            state_dir: self.template.state_dir.clone(),
        };
        Ok(supervisor::start(spec, state.clone()))
    }

    /// Waits until every one of `replicas` passes its readiness check (HTTP,
    /// TCP or exec), all at once, within one health timeout. Returns the
    /// first that did not.
    async fn ready_all(&self, replicas: &[Replica]) -> Result<(), RuntimeError> {
        let Some(probe) = &self.template.service.probes.readiness else { return Ok(()) };
        let timeout = self.template.service.deploy.health_timeout.0;
        let checks = replicas.iter().map(|replica| async move {
            let Some(target) =
                probe::Target::resolve(&probe.check, &replica.ports, &replica.workdir, &replica.env, &replica.launch)
            else {
                return Ok(());
            };
            if probe::wait_until_passing(&target, probe, timeout).await {
                Ok(())
            } else {
                Err(RuntimeError::NotReady {
                    service: replica.service.clone(),
                    replica: replica.index,
                    timeout,
                    log: replica.log.display().to_string(),
                })
            }
        });
        futures_util::future::join_all(checks).await.into_iter().collect()
    }
}

/// What is due on a schedule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Due {
    Job(String),
    Backup(String),
}

/// A running stack.
#[derive(Debug)]
pub struct Running {
    services: BTreeMap<String, ServiceRun>,
    /// PostgreSQL and Redis, stopped after the services that use them.
    dependencies: Vec<Replica>,
    edge: Option<EdgeHandle>,
    state: Arc<state::Shared>,
    state_dir: PathBuf,
    /// The spec's backup policies, run on their schedules.
    backups: Vec<backups::Scheduled>,
    spec: backups::SpecRef,
    pub edge_http: Option<SocketAddr>,
    pub edge_https: Option<SocketAddr>,
}

/// `berth up` runs plain processes on the host's network: nothing filters
/// what they connect to. A service's `egress` allowlist is refused, as the
/// systemd target refuses it, unless the spec accepts the gap there.
fn unfiltered_egress(plan: &Plan) -> Result<(), RuntimeError> {
    use berth_spec::SecurityFeature;
    let accepted = plan.targets.systemd.as_ref().map(|t| &t.accept_unenforced);
    for s in &plan.services {
        for e in &s.egress {
            let feature = match e.to {
                berth_plan::EgressTo::Network(_) => SecurityFeature::Egress,
                berth_plan::EgressTo::Host(_) => SecurityFeature::EgressHosts,
            };
            if !accepted.is_some_and(|a| a.contains_key(&feature)) {
                return Err(RuntimeError::Unsupported(format!(
                    "service `{}` may only reach `{}` (egress), but berth up runs processes on the host's network \
                     and filters nothing; let the host's firewall or an egress proxy hold it and say so: \
                     `targets.systemd.accept_unenforced: {{ {}: \"who enforces it\" }}`",
                    s.name,
                    e.to.as_str(),
                    feature.name()
                )));
            }
        }
    }
    Ok(())
}

/// berth up runs plain processes in no mount namespace of their own: it
/// cannot make a file appear at an absolute path for one process only.
/// Refused by name rather than started without its configuration.
fn unmountable_files(plan: &Plan) -> Result<(), RuntimeError> {
    match plan.services.iter().find_map(|s| Some((s, s.files.first()?))) {
        None => Ok(()),
        Some((s, f)) => Err(RuntimeError::Unsupported(format!(
            "service `{}` reads `{}` at `{}` (files), but berth up runs plain processes and cannot mount a file \
             for one of them; render compose, kubernetes or systemd (which binds it read-only), or have the \
             program take its configuration path from `env`",
            s.name, f.source, f.path
        ))),
    }
}

fn template(
    plan: &Plan,
    service: &ServicePlan,
    options: &Options,
    logs: &Path,
    endpoints: &BTreeMap<String, dependency::Endpoint>,
) -> Result<Template, RuntimeError> {
    let Some(run) = &service.run else {
        return Err(RuntimeError::Unsupported(format!(
            "service `{}` has no `run` command; berth up runs plain processes",
            service.name
        )));
    };
    let mut env = BTreeMap::new();
    for var in &service.env {
        match &var.value {
            EnvValue::Literal { value } => {
                env.insert(var.name.clone(), value.clone());
            }
            EnvValue::Secret { secret } => {
                let declared = plan.secrets.iter().find(|s| &s.name == secret);
                let value = declared.and_then(|s| (options.secrets)(s));
                let hint =
                    declared.map_or_else(String::new, |s| s.env.clone().or_else(|| s.file.clone()).unwrap_or_default());
                env.insert(var.name.clone(), value.ok_or_else(|| RuntimeError::MissingSecret(secret.clone(), hint))?);
            }
            EnvValue::Dependency { dependency, pooled, .. } => {
                let pooler =
                    plan.dependencies.iter().find(|d| *pooled && &d.name == dependency).and_then(|d| d.pooler.as_ref());
                let key = pooler.map_or(dependency, |p| &p.name);
                if let Some(endpoint) = endpoints.get(key) {
                    env.insert(var.name.clone(), endpoint.url.clone());
                }
            }
        }
    }
    let workdir = match &run.workdir {
        Some(w) => options.spec_dir.join(w),
        None => options.spec_dir.clone(),
    };
    Ok(Template {
        service: service.clone(),
        command: run.command.clone(),
        workdir,
        env,
        logs: logs.to_path_buf(),
        stop_timeout: run.stop_timeout.0,
        state_dir: options.state_dir.clone(),
        user: users::service_user(plan, service),
    })
}

/// Starts the plan's services, waits until each replica is ready, then the edge.
pub async fn up(plan: &Plan, options: Options) -> Result<Running, RuntimeError> {
    // A secret's source variable reaches only the services the spec gives
    // it to, under their own names: not every replica and server.
    process::hide_from_children(plan.secrets.iter().filter_map(|s| s.env.clone()));
    unfiltered_egress(plan)?;
    unmountable_files(plan)?;
    volumes::preflight(plan, &options.state_dir).await?;
    users::preflight(plan, &options.spec_dir).await?;
    let logs = options.state_dir.join("logs");
    process::create_private_dir(&logs).map_err(io(format!("cannot create {}", logs.display())))?;
    let state = Arc::new(state::Shared::new(options.state_dir.join("state.json")));
    state::write_plan(&options.state_dir, plan).map_err(io("cannot record the plan in the state directory"))?;
    // First, so that whoever reads the state while the stack starts knows
    // its processes have a living supervisor.
    state.set_supervisor(std::process::id(), &plan.project, plan.environment.clone());
    let mut running = Running {
        services: BTreeMap::new(),
        dependencies: Vec::new(),
        edge: None,
        state: state.clone(),
        state_dir: options.state_dir.clone(),
        backups: backups::scheduled(plan, &*options.secrets),
        spec: backups::SpecRef { file: options.spec_file.clone(), environment: plan.environment.clone() },
        edge_http: None,
        edge_https: None,
    };
    // Dependencies first: services get their URLs and may check them when ready.
    let mut endpoints = BTreeMap::new();
    for dep in &plan.dependencies {
        let password = dep
            .password_secret
            .as_ref()
            .and_then(|name| plan.secrets.iter().find(|s| &s.name == name))
            .and_then(|s| (options.secrets)(s));
        if dep.password_secret.is_some() && password.is_none() {
            running.down().await;
            let secret = dep.password_secret.clone().unwrap_or_default();
            return Err(RuntimeError::MissingSecret(
                secret,
                format!("BERTH_SECRET_<NAME> for the password of `{}`", dep.name),
            ));
        }
        let server = match dependency::start(plan, dep, password.clone(), &options.state_dir, &state).await {
            Ok((replica, endpoint)) => {
                running.dependencies.push(replica);
                endpoint
            }
            Err(e) => {
                running.down().await;
                return Err(e);
            }
        };
        if let Some(pooler) = &dep.pooler {
            match dependency::start_pooler(dep, pooler, &server, password.as_deref(), &options.state_dir, &state).await
            {
                Ok((replica, endpoint)) => {
                    running.dependencies.push(replica);
                    endpoints.insert(pooler.name.clone(), endpoint);
                }
                Err(e) => {
                    running.down().await;
                    return Err(e);
                }
            }
        }
        endpoints.insert(dep.name.clone(), server);
    }
    // A restart resumes the versions the last deploys left running.
    let versions = deploy::saved_versions(&options.state_dir);
    for service in &plan.services {
        let template = match template(plan, service, &options, &logs, &endpoints) {
            Ok(t) => t,
            Err(e) => {
                running.down().await;
                return Err(e);
            }
        };
        let version = versions.get(&service.name).cloned().flatten();
        // The gates first: a version whose migration fails never starts.
        for job in service.gates() {
            if let Err(e) = jobs::run(&template, job, version.as_deref(), &BTreeMap::new()).await {
                running.down().await;
                return Err(e);
            }
        }
        let mut run = ServiceRun {
            template,
            replicas: Vec::new(),
            next_index: 0,
            canary: Vec::new(),
            canary_set: BTreeMap::new(),
            previous: None,
        };
        for _ in 0..service.replicas.initial().max(1) {
            match run.spawn(version.clone(), &BTreeMap::new(), &state) {
                Ok(r) => run.replicas.push(r),
                Err(e) => {
                    running.services.insert(service.name.clone(), run);
                    running.down().await;
                    return Err(e);
                }
            }
        }
        running.services.insert(service.name.clone(), run);
    }
    // Traffic only once every replica answers its readiness check.
    let waits = running.services.values().map(|run| run.ready_all(&run.replicas));
    let not_ready = futures_util::future::join_all(waits).await.into_iter().find_map(Result::err);
    if let Some(error) = not_ready {
        running.down().await;
        return Err(error);
    }
    if let Some(edge) = &plan.edge
        && let Err(e) = running.start_edge(plan, edge, &options).await
    {
        running.down().await;
        return Err(e);
    }
    Ok(running)
}

fn write_tls(dir: &Path, pem: &berth_edge::tls::Pem) -> Result<(), RuntimeError> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(io(format!("cannot create {}", tls.display())))?;
    std::fs::write(tls.join("cert.pem"), &pem.cert).map_err(io("cannot write the edge certificate"))?;
    process::write_private(&tls.join("key.pem"), pem.key.as_bytes()).map_err(io("cannot write the edge key"))?;
    Ok(())
}

impl Running {
    /// The job named `job`, with what it needs to run as its service now
    /// runs (the service's settings and version).
    pub(crate) fn job(&self, job: &str) -> Option<(Template, berth_plan::JobPlan, Option<String>)> {
        self.services.values().find_map(|run| {
            let plan = run.template.service.job(job)?.clone();
            let version = run.replicas.first().and_then(|r| r.version.clone());
            Some((run.template.clone(), plan, version))
        })
    }

    /// Everything that runs on a schedule: jobs by name, backups by the
    /// name of what they back up.
    pub(crate) fn scheduled(&self) -> Vec<(Due, berth_spec::model::units::Schedule)> {
        self.services
            .values()
            .flat_map(|run| run.template.service.jobs.iter())
            .filter_map(|j| Some((Due::Job(j.name.clone()), j.schedule()?.clone())))
            .chain(self.backups.iter().map(|b| (Due::Backup(b.job.name.clone()), b.job.schedule.clone())))
            .collect()
    }

    /// A scheduled backup with what it needs to run.
    pub(crate) fn backup(&self, name: &str) -> Option<(backups::Scheduled, backups::SpecRef, PathBuf)> {
        let backup = self.backups.iter().find(|b| b.job.name == name)?;
        Some((backup.clone(), self.spec.clone(), self.state_dir.join("logs")))
    }

    /// `berth run JOB`.
    pub(crate) async fn run_job(&mut self, job: &str, progress: Progress<'_>) -> Result<(), RuntimeError> {
        let Some((template, plan, version)) = self.job(job) else {
            let known: Vec<String> =
                self.services.values().flat_map(|r| r.template.service.jobs.iter().map(|j| j.name.clone())).collect();
            return Err(RuntimeError::Deploy(format!(
                "no job named `{job}`; the spec declares {}",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
        };
        progress(format!("{}: running job {job}", template.service.name));
        jobs::run(&template, &plan, version.as_deref(), &BTreeMap::new()).await?;
        progress(format!("{}: job {job} succeeded", template.service.name));
        Ok(())
    }

    /// Loopback addresses of a service's replicas on a named port.
    fn addresses(replicas: &[Replica], port: &str) -> Vec<SocketAddr> {
        replicas.iter().filter_map(|r| r.ports.get(port)).map(|p| SocketAddr::from(([127, 0, 0, 1], *p))).collect()
    }

    async fn start_edge(
        &mut self,
        plan: &Plan,
        edge: &berth_plan::EdgePlan,
        options: &Options,
    ) -> Result<(), RuntimeError> {
        let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let tls = match &edge.tls {
            Some(t) if t.mode == berth_spec::TlsMode::Files => {
                let (cert, key) = (t.cert.clone().unwrap_or_default(), t.key.clone().unwrap_or_default());
                Some(berth_edge::tls::from_files(&options.spec_dir.join(cert), &options.spec_dir.join(key))?)
            }
            Some(_) => {
                let pem = berth_edge::tls::self_signed(&edge.hosts)?;
                write_tls(&options.state_dir, &pem)?;
                Some(pem)
            }
            None => None,
        };
        let services = &self.services;
        let replicas_of = |service: &str, port: &str| {
            services.get(service).map(|s| Self::addresses(&s.replicas, port)).unwrap_or_default()
        };
        let secret_of = |name: &str| plan.secrets.iter().find(|s| s.name == name).and_then(|s| (options.secrets)(s));
        let file_of = |path: &str| std::fs::read(options.spec_dir.join(path)).ok();
        let inputs = Inputs {
            http: loopback(edge.listen.local_http),
            https: tls.is_some().then(|| loopback(edge.listen.local_https)),
            admin: Some(loopback(edge.listen.admin)),
            tls,
            replicas: &replicas_of,
            secret: &secret_of,
            file: &file_of,
        };
        let config = EdgeConfig::from_plan(plan, edge, &inputs)?;
        let handle = Edge::start(config, Some(options.state_dir.join("logs/edge-access.log"))).await?;
        self.edge_http = Some(handle.http);
        self.edge_https = handle.https;
        self.state.set_edge(handle.http, handle.https, handle.admin);
        self.edge = Some(handle);
        Ok(())
    }

    /// Records that the stack serves and takes commands (`berth up -d`
    /// returns then): after the control socket is bound.
    pub fn mark_ready(&self) {
        self.state.set_ready();
    }

    /// Reopens the edge's access log (SIGHUP, after an external logrotate).
    pub fn reopen_logs(&self) {
        if let Some(edge) = &self.edge {
            edge.reopen_logs();
        }
    }

    /// Stops the edge (in-flight requests finish), then every replica
    /// (SIGTERM to its process group, SIGKILL after its stop timeout).
    pub async fn down(self) {
        if let Some(edge) = self.edge {
            edge.shutdown(Duration::from_secs(10)).await;
        }
        let mut stopping = Vec::new();
        for (_, run) in self.services {
            for replica in run.replicas.into_iter().chain(run.canary) {
                stopping.push(tokio::spawn(replica.stop()));
            }
        }
        for s in stopping {
            let _ = s.await;
        }
        for dependency in self.dependencies {
            dependency.stop().await;
        }
        dependency::remove_pooler_secrets(&self.state_dir);
        let _ = std::fs::remove_file(self.state_dir.join("state.json"));
        let _ = std::fs::remove_file(self.state_dir.join(state::PLAN_FILE));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    fn plan(extra: &str) -> berth_plan::Plan {
        let text = format!(
            "version: 1\nname: shop\nservices:\n  api:\n    run: {{ command: [./api] }}\n    ports: {{ http: 8080 }}\n    egress:\n      - {{ to: api.stripe.com, ports: [443] }}\n{extra}"
        );
        let spec = berth_spec::load(&text, None).spec.unwrap();
        berth_plan::build(&spec, None)
    }

    #[test]
    fn egress_berth_up_cannot_filter_is_refused_unless_accepted() {
        let refused = super::unfiltered_egress(&plan("")).unwrap_err().to_string();
        assert!(refused.contains("`api`") && refused.contains("api.stripe.com"), "{refused}");
        assert!(refused.contains("egress-hosts"), "{refused}");
        let accepted = "targets:\n  systemd:\n    accept_unenforced:\n      egress-hosts: the host's Squid proxy allows only Stripe\n";
        assert!(super::unfiltered_egress(&plan(accepted)).is_ok());
    }

    #[test]
    fn files_berth_up_cannot_mount_are_refused() {
        let spec = "version: 1\nname: shop\nservices:\n  api:\n    run: { command: [./api] }\n    files:\n      /etc/api/config.toml: config/api.toml\n";
        let plan = berth_plan::build(&berth_spec::load(spec, None).spec.unwrap(), None);
        let refused = super::unmountable_files(&plan).unwrap_err().to_string();
        assert!(refused.contains("`api`") && refused.contains("/etc/api/config.toml"), "{refused}");
    }
}
