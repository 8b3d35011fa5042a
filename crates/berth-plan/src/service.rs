use berth_spec::model::units::{Duration, Percent};
use berth_spec::{Amounts, CustomMetric, Deploy, Probe, Service, Spec, Strategy, VolumeKind};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ServicePlan {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<berth_spec::Build>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunPlan>,
    pub ports: Vec<PortPlan>,
    /// The port routes, checks and scrapes use unless they name another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_port: Option<PortPlan>,
    pub replicas: Replicas,
    pub probes: Probes,
    pub resources: ResourcesPlan,
    pub env: Vec<EnvVar>,
    pub volumes: Vec<VolumePlan>,
    pub security: SecurityPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsPlan>,
    pub deploy: DeployPlan,
    pub uses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<JobPlan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<berth_spec::Placement>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressPlan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FilePlan>,
}

/// A configuration file from the repository, mounted read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilePlan {
    /// Where it appears in the container (`/etc/app/config.toml`).
    pub path: String,
    /// Its path relative to the spec (`config/app.toml`).
    pub source: String,
    /// The name it goes by where targets keep it (a ConfigMap key, a
    /// compose config, a file beside the units): its base name, made
    /// unique within the service, in `[-._a-zA-Z0-9]`.
    pub key: String,
    /// The file's text, filled by [`crate::Plan::read_files`] (the plan is
    /// built without I/O). Targets refuse a plan whose files were not read.
    #[serde(skip)]
    pub content: Option<String>,
}

impl ServicePlan {
    /// SHA-256 over the service's files (path, then content): what a
    /// target puts beside the workload so that a changed file rolls it.
    /// `None` without files, or while one is unread.
    pub fn files_digest(&self) -> Option<String> {
        if self.files.is_empty() {
            return None;
        }
        let mut text = String::new();
        for f in &self.files {
            text.push_str(&f.path);
            text.push('\0');
            text.push_str(f.content.as_deref()?);
            text.push('\0');
        }
        Some(crate::sha256_hex(text.as_bytes()))
    }
}

/// The keys of `files` (container path → source), in path order.
fn files(files: &std::collections::BTreeMap<String, String>) -> Vec<FilePlan> {
    let mut used: Vec<String> = Vec::new();
    files
        .iter()
        .map(|(path, source)| {
            let base = path.rsplit('/').next().unwrap_or(path);
            let clean: String = base
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') { c } else { '-' })
                .collect();
            let clean = if clean.trim_matches('.').is_empty() { "file".to_owned() } else { clean };
            let mut key = clean.clone();
            let mut n = 2;
            while used.contains(&key) {
                key = format!("{n}-{clean}");
                n += 1;
            }
            used.push(key.clone());
            FilePlan { path: path.clone(), source: source.clone(), key, content: None }
        })
        .collect()
}

/// A destination outside the project a service may connect to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EgressPlan {
    pub to: EgressTo,
    /// TCP ports, sorted, each once.
    pub ports: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum EgressTo {
    /// A CIDR block; one address is written as its /32 or /128.
    Network(String),
    Host(String),
}

impl EgressTo {
    /// What the spec wrote, normalised: `203.0.113.7/32`, `api.stripe.com`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Network(n) | Self::Host(n) => n,
        }
    }

    pub fn is_ipv6(&self) -> bool {
        matches!(self, Self::Network(n) if n.contains(':'))
    }
}

fn egress(e: &berth_spec::Egress) -> EgressPlan {
    let to = if let Ok(ip) = e.to.parse::<std::net::IpAddr>() {
        EgressTo::Network(format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 }))
    } else if let Some((ip, bits)) = e.to.split_once('/')
        && let Ok(ip) = ip.parse::<std::net::IpAddr>()
    {
        EgressTo::Network(format!("{ip}/{bits}"))
    } else {
        // Host names are case-insensitive; one spelling for every target.
        EgressTo::Host(e.to.trim_end_matches('.').to_ascii_lowercase())
    };
    let mut ports = e.ports.clone();
    ports.sort_unstable();
    ports.dedup();
    EgressPlan { to, ports }
}

/// A run-to-completion command of a service, with its environment.
#[derive(Debug, Clone, Serialize)]
pub struct JobPlan {
    pub name: String,
    pub command: Vec<String>,
    pub trigger: JobTrigger,
    pub timeout: Duration,
    /// Runs after a failed one before the job fails.
    pub retries: u32,
}

/// When a job runs (besides `berth run`, which runs any of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "on", rename_all = "snake_case")]
pub enum JobTrigger {
    /// Before each deploy of its service switches traffic: its failure
    /// stops the deploy.
    BeforeDeploy,
    Schedule {
        schedule: berth_spec::model::units::Schedule,
    },
    /// Only when someone runs it.
    OnDemand,
}

impl JobPlan {
    /// The workload's name on every target: `<service>-<job>`.
    pub fn workload(&self, service: &str) -> String {
        format!("{service}-{}", self.name)
    }

    pub fn schedule(&self) -> Option<&berth_spec::model::units::Schedule> {
        match &self.trigger {
            JobTrigger::Schedule { schedule } => Some(schedule),
            _ => None,
        }
    }
}

impl ServicePlan {
    pub fn job(&self, name: &str) -> Option<&JobPlan> {
        self.jobs.iter().find(|j| j.name == name)
    }

    /// The jobs that gate each deploy, in name order.
    pub fn gates(&self) -> impl Iterator<Item = &JobPlan> {
        self.jobs.iter().filter(|j| j.trigger == JobTrigger::BeforeDeploy)
    }
}

/// A job's default `timeout`.
pub const JOB_TIMEOUT: Duration = Duration::secs(600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortPlan {
    pub name: String,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunPlan {
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    pub stop_timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Replicas {
    Fixed {
        count: u32,
    },
    Autoscaled {
        min: u32,
        max: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        cpu: Option<Percent>,
        #[serde(skip_serializing_if = "Option::is_none")]
        memory: Option<Percent>,
        #[serde(skip_serializing_if = "Option::is_none")]
        metric: Option<CustomMetric>,
        #[serde(skip_serializing_if = "Option::is_none")]
        scale_up: Option<berth_spec::ScalingPace>,
        #[serde(skip_serializing_if = "Option::is_none")]
        scale_down: Option<berth_spec::ScalingPace>,
    },
}

impl Probes {
    /// How long a replica may take to start before its health checks count:
    /// the startup probe's whole budget (initial delay plus every allowed
    /// failure), or the health check's own initial delay without one.
    pub fn start_grace(&self) -> std::time::Duration {
        match &self.startup {
            Some(p) => p.initial_delay.0 + p.interval.0 * p.failure_threshold,
            None => self
                .readiness
                .as_ref()
                .or(self.liveness.as_ref())
                .map_or(std::time::Duration::ZERO, |p| p.initial_delay.0),
        }
    }
}

impl Replicas {
    /// Replicas to start with: the fixed count, or the autoscaler's minimum.
    pub fn initial(&self) -> u32 {
        match self {
            Self::Fixed { count } => *count,
            Self::Autoscaled { min, .. } => *min,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Probes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<ProbePlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ProbePlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup: Option<ProbePlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbePlan {
    pub check: ProbeCheck,
    pub interval: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub initial_delay: Duration,
}

/// The one readiness and liveness rule for an HTTP check, everywhere berth
/// judges one (the edge, `berth up`, `status`, `doctor`): any 2xx or 3xx
/// answer passes, as on Kubernetes.
pub fn http_probe_passes(status: u16) -> bool {
    (200..400).contains(&status)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeCheck {
    Http { path: String, port: PortPlan },
    Tcp { port: PortPlan },
    Exec { command: Vec<String> },
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourcesPlan {
    pub requests: Amounts,
    pub limits: Amounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<berth_spec::Gpu>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub name: String,
    #[serde(flatten)]
    pub value: EnvValue,
}

/// Where an environment variable's value comes from. Secret values never
/// appear in the plan, only the secret's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum EnvValue {
    Literal {
        value: String,
    },
    Secret {
        secret: String,
    },
    /// A dependency's connection URL; `password_secret` is spliced in by
    /// whatever runs the service, never written out.
    Dependency {
        dependency: String,
        url: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        password_secret: Option<String>,
        /// The URL names the dependency's PgBouncer, not the server.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        pooled: bool,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumePlan {
    pub name: String,
    pub path: String,
    pub size: berth_spec::model::units::ByteSize,
    pub persistent: bool,
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<crate::BackupJob>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityPlan {
    pub run_as_user: u32,
    /// Whether the spec named `run_as_user` (berth up gives each service
    /// that does not a user of its own).
    #[serde(skip)]
    pub run_as_user_given: bool,
    pub run_as_non_root: bool,
    pub read_only_root: bool,
    pub allow_privilege_escalation: bool,
    pub drop_capabilities: Vec<String>,
    pub add_capabilities: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricsPlan {
    pub path: String,
    pub port: PortPlan,
    /// The request counter, the duration histogram (without `_bucket`) and
    /// the counter's status label the built-in alerts and dashboards use.
    pub requests: String,
    pub duration: String,
    pub status_label: String,
}

impl MetricsPlan {
    /// `<requests>{<sel>}` with the status matching `status` (a regex) when given.
    pub fn requests_of(&self, sel: &str, status: Option<&str>) -> String {
        match status {
            Some(s) => format!("{}{{{sel},{}=~\"{s}\"}}", self.requests, self.status_label),
            None => format!("{}{{{sel}}}", self.requests),
        }
    }

    pub fn buckets(&self) -> String {
        format!("{}_bucket", self.duration)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployPlan {
    pub strategy: Strategy,
    pub batch: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_weight: Option<Percent>,
    pub health_timeout: Duration,
    pub drain_timeout: Duration,
    pub auto_rollback: bool,
}

pub const DEFAULT_USER: u32 = 10001;

/// Port names that mean a side listener (metrics, an admin page), which
/// traffic and `PORT` never default to.
const SIDE_PORTS: [&str; 6] = ["metrics", "admin", "management", "health", "debug", "status"];

/// The port a check or route uses when it names none, and the one `PORT`
/// tells the app to serve on: the port named `http`, else the first port
/// (by name) that is not a side listener, else the first port. A service
/// with `{ ws: 8200, metrics: 9200 }` serves on `ws`.
pub fn primary_port(service: &Service) -> Option<PortPlan> {
    service
        .ports
        .get_key_value("http")
        .or_else(|| service.ports.iter().find(|(name, _)| !SIDE_PORTS.contains(&name.as_str())))
        .or_else(|| service.ports.iter().next())
        .map(|(name, port)| PortPlan { name: name.clone(), port: *port })
}

pub fn port(service: &Service, name: Option<&str>) -> Option<PortPlan> {
    match name {
        Some(name) => service.ports.get(name).map(|p| PortPlan { name: name.to_owned(), port: *p }),
        None => primary_port(service),
    }
}

pub fn deploy(service: Option<&Deploy>, top: &Deploy) -> DeployPlan {
    let pick = |f: fn(&Deploy) -> Option<Duration>, default: u64| {
        service.and_then(f).or(f(top)).unwrap_or(Duration::secs(default))
    };
    let strategy = service.and_then(|d| d.strategy).or(top.strategy).unwrap_or(Strategy::Rolling);
    DeployPlan {
        strategy,
        batch: service.and_then(|d| d.batch).or(top.batch).unwrap_or(1),
        canary_weight: (strategy == Strategy::Canary)
            .then(|| service.and_then(|d| d.canary_weight).or(top.canary_weight).unwrap_or(Percent(10.0))),
        health_timeout: pick(|d| d.health_timeout, 60),
        drain_timeout: pick(|d| d.drain_timeout, 30),
        auto_rollback: service.and_then(|d| d.auto_rollback).or(top.auto_rollback).unwrap_or(true),
    }
}

fn probe(service: &Service, probe: &Probe) -> Option<ProbePlan> {
    let check = if let Some(path) = &probe.http {
        ProbeCheck::Http { path: path.clone(), port: port(service, probe.port.as_deref())? }
    } else if let Some(command) = &probe.exec {
        ProbeCheck::Exec { command: command.clone() }
    } else {
        ProbeCheck::Tcp { port: port(service, probe.port.as_deref())? }
    };
    Some(ProbePlan {
        check,
        interval: probe.interval.unwrap_or(Duration::secs(10)),
        timeout: probe.timeout.unwrap_or(Duration::secs(2)),
        failure_threshold: probe.failure_threshold.unwrap_or(3),
        success_threshold: probe.success_threshold.unwrap_or(1),
        initial_delay: probe.initial_delay.unwrap_or_default(),
    })
}

pub(crate) fn plan(spec: &Spec, name: &str, s: &Service) -> ServicePlan {
    let mut env: Vec<EnvVar> =
        s.env.iter().map(|(k, v)| EnvVar { name: k.clone(), value: EnvValue::Literal { value: v.clone() } }).collect();
    env.extend(
        s.secrets.iter().map(|(k, v)| EnvVar { name: k.clone(), value: EnvValue::Secret { secret: v.clone() } }),
    );
    for dep_name in &s.uses {
        if let Some(dep) = spec.dependencies.get(dep_name) {
            let planned = crate::dependency::plan(spec, dep_name, dep);
            let url = |url: &str, pooled: bool| EnvValue::Dependency {
                dependency: dep_name.clone(),
                url: url.to_owned(),
                password_secret: planned.password_secret.clone(),
                pooled,
            };
            match &planned.pooler {
                // Through the pooler, and the server itself beside it for
                // what transaction pooling breaks.
                Some(pooler) => {
                    env.push(EnvVar { name: planned.url_env.clone(), value: url(&pooler.url, true) });
                    env.push(EnvVar { name: pooler.direct_url_env.clone(), value: url(&planned.url, false) });
                }
                None => env.push(EnvVar { name: planned.url_env.clone(), value: url(&planned.url, false) }),
            }
        }
    }
    env.sort_by(|a, b| a.name.cmp(&b.name));
    let replicas = match &s.autoscale {
        Some(a) => Replicas::Autoscaled {
            min: a.min,
            max: a.max,
            cpu: a.cpu,
            memory: a.memory,
            metric: a.metric.clone(),
            scale_up: a.scale_up,
            scale_down: a.scale_down,
        },
        None => Replicas::Fixed { count: s.replicas.unwrap_or(1) },
    };
    let sec = &s.security;
    ServicePlan {
        name: name.to_owned(),
        image: s.image.clone(),
        build: s.build.clone(),
        run: s.run.as_ref().map(|r| RunPlan {
            command: r.command.clone(),
            workdir: r.workdir.clone(),
            stop_timeout: r.stop_timeout.unwrap_or(Duration::secs(10)),
        }),
        ports: s.ports.iter().map(|(n, p)| PortPlan { name: n.clone(), port: *p }).collect(),
        primary_port: primary_port(s),
        replicas,
        probes: Probes {
            liveness: s.health.liveness.as_ref().and_then(|p| probe(s, p)),
            readiness: s.health.readiness.as_ref().and_then(|p| probe(s, p)),
            startup: s.health.startup.as_ref().and_then(|p| probe(s, p)),
        },
        resources: ResourcesPlan {
            requests: s.resources.requests.unwrap_or_default(),
            limits: s.resources.limits.unwrap_or_default(),
            gpu: s.resources.gpu,
        },
        env,
        volumes: s
            .volumes
            .iter()
            .map(|(n, v)| VolumePlan {
                name: n.clone(),
                path: v.path.clone(),
                size: v.size.unwrap_or(berth_spec::model::units::ByteSize(1 << 30)),
                persistent: v.kind != Some(VolumeKind::Scratch),
                read_only: v.read_only,
                backup: v.backup.as_ref().map(|b| crate::BackupJob::of_volume(name, n, b)),
            })
            .collect(),
        security: SecurityPlan {
            run_as_user: sec.run_as_user.unwrap_or(DEFAULT_USER),
            run_as_user_given: sec.run_as_user.is_some(),
            run_as_non_root: sec.run_as_non_root.unwrap_or(true),
            read_only_root: sec.read_only_root.unwrap_or(true),
            allow_privilege_escalation: false,
            drop_capabilities: sec.drop_capabilities.clone().unwrap_or_else(|| vec!["ALL".to_owned()]),
            add_capabilities: sec.add_capabilities.clone(),
        },
        metrics: s.metrics.as_ref().and_then(|m| {
            Some(MetricsPlan {
                path: m.path.clone().unwrap_or_else(|| "/metrics".to_owned()),
                // Unnamed, metrics are scraped from a port named `metrics`
                // before the serving port.
                port: match m.port.as_deref() {
                    None if s.ports.contains_key("metrics") => port(s, Some("metrics"))?,
                    name => port(s, name)?,
                },
                requests: m.requests.clone().unwrap_or_else(|| "http_requests_total".to_owned()),
                duration: m.duration.clone().unwrap_or_else(|| "http_request_duration_seconds".to_owned()),
                status_label: m.status_label.clone().unwrap_or_else(|| "status".to_owned()),
            })
        }),
        deploy: deploy(s.deploy.as_ref(), &spec.deploy),
        uses: s.uses.clone(),
        jobs: s
            .jobs
            .iter()
            .map(|(n, j)| JobPlan {
                name: n.clone(),
                command: j.command.clone(),
                trigger: match (&j.schedule, j.before_deploy) {
                    (_, true) => JobTrigger::BeforeDeploy,
                    (Some(schedule), false) => JobTrigger::Schedule { schedule: schedule.clone() },
                    (None, false) => JobTrigger::OnDemand,
                },
                timeout: j.timeout.unwrap_or(JOB_TIMEOUT),
                retries: j.retries.unwrap_or(0),
            })
            .collect(),
        devices: s.devices.clone(),
        placement: s.placement.clone().filter(|p| !p.node_selector.is_empty() || !p.tolerations.is_empty()),
        egress: s.egress.iter().map(egress).collect(),
        files: files(&s.files),
    }
}

/// The OpenTelemetry SDK variables for `s`, unless the service sets them
/// itself: where to export, its name, the project and environment, and
/// a sampler that follows a caller's decision and samples new traces at
/// the spec's ratio.
pub(crate) fn trace(s: &mut ServicePlan, t: &berth_spec::Tracing, project: &str, environment: Option<&str>) {
    let mut attributes = format!("service.namespace={project}");
    if let Some(env) = environment {
        attributes.push_str(&format!(",deployment.environment.name={env}"));
    }
    let ratio = t.sample.map_or(1.0, |p| p.0 / 100.0);
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", t.endpoint.clone()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", t.protocol.as_str().to_owned()),
        ("OTEL_SERVICE_NAME", s.name.clone()),
        ("OTEL_RESOURCE_ATTRIBUTES", attributes),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_PROPAGATORS", "tracecontext,baggage".to_owned()),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".to_owned()),
        ("OTEL_TRACES_SAMPLER_ARG", format!("{ratio}")),
    ];
    for (name, value) in vars {
        if !s.env.iter().any(|v| v.name == name) {
            s.env.push(EnvVar { name: name.to_owned(), value: EnvValue::Literal { value } });
        }
    }
    s.env.sort_by(|a, b| a.name.cmp(&b.name));
}

/// The port replica `index` (0-based) of a service listens on when several
/// replicas share one host: the declared port plus the index.
pub fn replica_port(port: u16, index: u32) -> u16 {
    port.saturating_add(u16::try_from(index).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    fn plan(files: &str) -> crate::Plan {
        let text = format!(
            "version: 1\nname: shop\nservices:\n  api:\n    image: ghcr.io/acme/api:1.0.0\n    files:\n{files}"
        );
        crate::build(&berth_spec::load(&text, None).spec.unwrap(), None)
    }

    /// Keys are what targets name files by: unique, in ConfigMap's alphabet.
    #[test]
    fn files_get_unique_keys_and_a_digest_of_what_was_read() {
        let mut p = plan("      /etc/a/app.toml: a.toml\n      /etc/b/app.toml: b.toml\n      /etc/c/my file!: c\n");
        let keys: Vec<&str> = p.services[0].files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["app.toml", "2-app.toml", "my-file-"]);
        assert_eq!(p.services[0].files_digest(), None, "nothing read yet");
        assert!(p.read_files(|path| Ok::<_, String>(format!("from {path}"))).is_empty());
        let first = p.services[0].files_digest().unwrap();
        assert_eq!(first.len(), 64);
        p.services[0].files[1].content = Some("changed".to_owned());
        assert_ne!(p.services[0].files_digest().unwrap(), first, "a changed file is a new digest");
        let failed = plan("      /etc/a/app.toml: a.toml\n").read_files(|_| Err("gone"));
        assert_eq!(failed, [("api".to_owned(), "a.toml".to_owned(), "gone".to_owned())]);
    }
}
