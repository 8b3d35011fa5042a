use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Deploy;
use super::units::{ByteSize, Cpu, Duration, Percent, Schedule};

/// One long-running process of the project, run as one or more replicas.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Container image, with a tag or digest (`ghcr.io/acme/api:1.4.2`).
    /// Used by container targets (compose, Kubernetes, ECS, Cloud Run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// How to build the image, when berth should build it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// How to run the service as a plain process, without containers
    /// (`berth up`, systemd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Run>,
    /// Named ports the service listens on, such as `http: 8080`. Names are
    /// lowercase, at most 15 characters (Kubernetes' limit).
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    /// Liveness, readiness and startup checks.
    #[serde(default)]
    pub health: Health,
    /// Fixed number of replicas. Default 1. Leave it out when `autoscale` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// CPU and memory requests and limits per replica.
    #[serde(default)]
    pub resources: Resources,
    /// Plain environment variables. Secret values go under `secrets`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables filled from declared secrets: `VAR: secret-name`.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Dependencies this service connects to. Each injects its connection
    /// URL (`DATABASE_URL` for PostgreSQL, `REDIS_URL` for Redis, unless the
    /// dependency sets `url_env`).
    #[serde(default)]
    pub uses: Vec<String>,
    /// Volumes mounted into the service, by name. Under `berth up`, where
    /// services are plain processes, each replica starts in a mount
    /// namespace of its own with every volume bound at its path (as root,
    /// or through a user namespace that keeps the user), backed by
    /// `.berth/<env>/volumes/<service>/`: persistent ones shared by the
    /// service's replicas, scratch ones per replica and emptied at each
    /// start. A path that does not exist on the host is created empty.
    #[serde(default)]
    pub volumes: BTreeMap<String, Volume>,
    /// Scale replicas between `min` and `max` on CPU, memory or a custom metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<Autoscale>,
    /// Process hardening. The defaults are strict; loosen them here.
    #[serde(default)]
    pub security: Security,
    /// Where the service exports Prometheus metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// Deploy settings for this service only, over the top-level `deploy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// Run-to-completion work with this service's image or program,
    /// environment, secrets, dependencies and volumes: a database migration
    /// that gates every deploy (`before_deploy: true`), a scheduled task
    /// (`schedule`), or a task run on demand with `berth run NAME`. Job
    /// names are unique in the spec.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub jobs: BTreeMap<String, Job>,
    /// Host device files the service uses, read and write, such as
    /// `/dev/fuse` (GPUs go under `resources.gpu`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Which nodes replicas may run on (Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// What the service may connect to outside the project: a payment API,
    /// a model provider, a partner's network. Its dependencies (`uses`),
    /// DNS and the trace collector are always allowed; with no entries the
    /// service reaches nothing else. A target that cannot hold traffic to
    /// exactly these networks and ports refuses to render (`egress`, or
    /// `egress-hosts` for host names) unless `accept_unenforced` says who
    /// does instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Egress>,
    /// Send each client to the same replica: for a service that keeps a
    /// client's state in memory, such as WebSocket sessions. `client-ip`
    /// chooses by the client's address (the one `edge.trusted_proxies`
    /// vouch for); `cookie` by a `berth_affinity` cookie the proxy sets on
    /// a client's first response (random, `HttpOnly`, `SameSite=Lax`,
    /// `Secure` over HTTPS), so clients behind one address (an office, a
    /// carrier's NAT) still spread over the replicas. A replica that goes
    /// away moves only its own clients; during a canary a client stays on
    /// one version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky: Option<Sticky>,
    /// Configuration files from the repository, mounted read-only:
    /// `/etc/app/config.toml: config/app.toml` (the container path, then
    /// the file's path relative to the spec). The file's content travels
    /// with what berth renders (a ConfigMap, compose `configs`, a file the
    /// systemd install places) with its SHA-256, so a changed file rolls
    /// the service. Its jobs see the same files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

/// What keeps a client on one replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Sticky {
    /// The client's address.
    ClientIp,
    /// A cookie the proxy sets.
    Cookie,
}

impl Sticky {
    /// The cookie that carries a client's affinity key (`sticky: cookie`).
    pub const COOKIE: &'static str = "berth_affinity";

    /// As the spec spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::ClientIp => "client-ip",
            Self::Cookie => "cookie",
        }
    }
}

/// One destination a service may connect to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    /// A network (`10.20.0.0/16`, `2001:db8::/32`), one address, or a host
    /// name (`api.stripe.com`). Network policies match addresses: a host
    /// name is held to its ports only where a target cannot resolve it.
    pub to: String,
    /// TCP ports, such as `[443]`.
    pub ports: Vec<u16>,
}

/// A job: a command that runs to completion.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Program and arguments. For `berth up` and systemd a relative program
    /// is found in the service's `run.workdir`; container targets run it as
    /// the container's command in the service's image.
    pub command: Vec<String>,
    /// Run on this cron schedule (five fields, UTC), such as `0 3 * * *`.
    /// A run still going when the next is due makes that one wait (never
    /// two at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Run before each deploy of the service switches traffic, with the new
    /// version. When it fails, the deploy stops and the old version keeps
    /// serving. Made for schema migrations, which must then be compatible
    /// with the version still running.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub before_deploy: bool,
    /// Longest a run may take before it is stopped and counts as failed.
    /// Default `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Runs after a failed one before the job counts as failed. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// How to build the service's container image.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Build context directory, relative to the spec. Default `.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Dockerfile path, relative to the context. Default `Dockerfile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// Build stage to stop at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Build arguments (never secrets: they stay in the image history).
    #[serde(default)]
    pub args: BTreeMap<String, String>,
}

/// How to run the service as a plain process.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// Program and arguments. `${PORT}` and `${PORT_<NAME>}` expand to the
    /// port berth assigns to the replica.
    pub command: Vec<String>,
    /// Working directory, relative to the spec. Default: the spec's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Time between SIGTERM and SIGKILL when stopping. Default `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<Duration>,
}

/// Health checks. Readiness gates traffic; liveness restarts a stuck
/// replica; startup holds the other two off while the service boots.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Restart the replica when this fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
    /// Send traffic only while this passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
    /// Wait for this before running the other checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Probe>,
}

/// One health check: an HTTP GET, a TCP connect or a command.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// HTTP path to GET; any 2xx or 3xx passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// Command to run inside the service's environment; exit 0 passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
    /// Pass when a TCP connection to the port opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<bool>,
    /// Named port to check. Default: the port named `http`, else the first port not named
    /// `metrics`, `admin`, `management`, `health`, `debug` or `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Time between checks. Default `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time one check may take. Default `2s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Failures in a row that count as down. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Successes in a row that count as up again. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<u32>,
    /// Time to wait after start before the first check. Default `0s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<Duration>,
}

/// CPU and memory per replica.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Amounts>,
    /// The most the replica may use; memory over the limit is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Amounts>,
    /// GPUs each replica gets for itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Gpu>,
}

/// GPUs for each replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// How many, at least 1.
    pub count: u32,
    /// `nvidia` (default) or `amd`: which device plugin, driver and device
    /// files the targets use.
    #[serde(default)]
    pub vendor: GpuVendor,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GpuVendor {
    #[default]
    Nvidia,
    Amd,
}

impl GpuVendor {
    /// The extended resource Kubernetes' device plugin advertises.
    pub fn resource(self) -> &'static str {
        match self {
            Self::Nvidia => "nvidia.com/gpu",
            Self::Amd => "amd.com/gpu",
        }
    }
}

/// Where replicas may run, for targets that schedule onto a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Node labels a node must have, such as
    /// `cloud.google.com/gke-accelerator: nvidia-l4`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Node taints replicas tolerate, such as the taint of a GPU node pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
}

/// A taint replicas tolerate (Kubernetes' toleration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    /// The taint's key; leave it out with `operator: Exists` to tolerate every taint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (default: the taint's value is `value`) or `Exists`.
    #[serde(default)]
    pub operator: TolerationOperator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; left out, every effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum TolerationOperator {
    #[default]
    Equal,
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

/// An amount of CPU and memory.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Amounts {
    /// Cores (`0.5`) or millicores (`500m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Bytes with a unit (`256Mi`, `1Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
}

/// A volume mounted into the service.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Absolute mount path inside the service.
    pub path: String,
    /// Storage size for persistent volumes. Default `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ByteSize>,
    /// `persistent` (survives restarts and deploys) or `scratch` (emptied on
    /// every start). Default `persistent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<VolumeKind>,
    /// Mount read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Back up the volume's files: `{ schedule, to }`, with the same
    /// `retain`, `verify` and `signing_key` as a dependency's backup. Each
    /// backup is one tar archive (modes, owners, links and times kept)
    /// compressed with zstd, listed in a manifest with the archive's
    /// checksum and a digest of every file; verification unpacks it into
    /// a scratch directory and compares. `berth up` and the systemd target
    /// run it on its schedule; `berth backup <service>.<volume>` takes one
    /// now, `berth restore <service>.<volume>` puts one back (the current
    /// files are kept beside the volume). Kubernetes leaves volume backups
    /// to the storage's snapshots (R001). Persistent volumes only; `method`
    /// and `recovery_point` are PostgreSQL's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<super::dependency::Backup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeKind {
    Persistent,
    Scratch,
}

/// Horizontal autoscaling.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscale {
    /// Fewest replicas, at least 1.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// Target average CPU use, in percent of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Percent>,
    /// Target average memory use, in percent of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Percent>,
    /// Scale on a custom per-replica metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<CustomMetric>,
    /// How fast replicas are added. Default: Kubernetes' (double or add 4
    /// every 15 s, no stabilization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScalingPace>,
    /// How fast replicas are removed. Default: Kubernetes' (any number,
    /// after 5 minutes of lower load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScalingPace>,
}

/// The pace of scaling one way (Kubernetes' HPA `behavior`): a change is
/// made only when the recommendation held for `stabilization`, and by at
/// most `max_pods` replicas or `max_percent` of them (the larger) per `per`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingPace {
    /// How long the load must ask for the change first, up to `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization: Option<Duration>,
    /// Replicas added or removed per `per`, at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pods: Option<u32>,
    /// Percent of the current replicas added or removed per `per`, at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_percent: Option<u32>,
    /// The period the limits count over, `1s` to `30m`. Default `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Duration>,
}

/// A custom metric target: keep `name` per replica near `target`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomMetric {
    /// Metric name as the service exports it (`http_requests_per_second`).
    pub name: String,
    /// Average value per replica to aim for.
    pub target: f64,
}

/// Process hardening. Every default is the strict choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// User id to run as. Default 10001; 0 (root) is refused unless
    /// `run_as_non_root: false`. `berth up` run as root starts the
    /// service's replicas, jobs and exec probes as this user (and group of
    /// the same number, no supplementary groups), and refuses to start when
    /// that user cannot enter the working directory or run the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    /// Refuse to start as root. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// Mount the root filesystem read-only; write only to volumes. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root: Option<bool>,
    /// Linux capabilities to drop. Default `[ALL]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_capabilities: Option<Vec<String>>,
    /// Linux capabilities to add back, such as `NET_BIND_SERVICE`.
    #[serde(default)]
    pub add_capabilities: Vec<String>,
}

/// Where Prometheus scrapes the service.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// HTTP path. Default `/metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Named port. Default: the port named `metrics`, else the service's serving port (`http`, else
    /// the first port not named like a side listener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The counter of answered requests the built-in alerts and dashboards
    /// query, labelled with the status code. Default `http_requests_total`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<String>,
    /// The histogram of request durations in seconds, without `_bucket`.
    /// Default `http_request_duration_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// The label of `requests` that holds the HTTP status code, such as
    /// `code` (Go's promhttp). Default `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_label: Option<String>,
}
