//! The plan: one environment of a spec, resolved into the typed model every
//! back end consumes. Defaults are filled in, references are followed and
//! checked, connection settings are wired, and the alert set and backup jobs
//! are decided here once, so no renderer decides them differently.
//!
//! Pure: [`build`] takes a validated [`Spec`] and returns data.

mod alerts;
mod dependency;
mod edge;
mod service;

use berth_spec::model::units::Duration;
use berth_spec::{Spec, Targets};
use serde::Serialize;

pub use alerts::{AlertPlan, ScrapeKind, ScrapeTarget};
pub use dependency::{
    BackupJob, BackupSubject, DependencyPlan, INIT_SCRIPT, INITDB_DIR, PoolerPlan, QUIET_SESSION_SQL, userlist_line,
    userlist_script, volume_backup_name,
};
pub use edge::{EdgePlan, ListenPlan, RateLimitPlan, RoutePlan, RouteShare, SplitPlan, TimeoutsPlan, TlsPlan};
pub use service::{
    DEFAULT_USER, DeployPlan, EgressPlan, EgressTo, EnvValue, EnvVar, FilePlan, JOB_TIMEOUT, JobPlan, JobTrigger,
    MetricsPlan, PortPlan, ProbeCheck, ProbePlan, Probes, Replicas, ResourcesPlan, RunPlan, SecurityPlan, ServicePlan,
    VolumePlan, http_probe_passes, replica_port,
};

/// The resolved deployment of one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub services: Vec<ServicePlan>,
    pub dependencies: Vec<DependencyPlan>,
    pub secrets: Vec<SecretPlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgePlan>,
    pub monitoring: MonitoringPlan,
    /// Where services send traces (their `OTEL_*` variables say the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<berth_spec::Tracing>,
    pub backups: Vec<BackupJob>,
    pub targets: Targets,
    /// Things the plan left out and why (an alert without the metric it needs, say).
    pub notes: Vec<String>,
}

impl Plan {
    /// The dependencies' backup policies (not the volumes').
    pub fn dependency_backups(&self) -> impl Iterator<Item = &BackupJob> {
        self.backups.iter().filter(|b| b.subject.dependency_kind().is_some())
    }

    /// Fills in the content of every service's `files` with `read` (given
    /// the path relative to the spec); the plan is built without I/O, so
    /// the caller reads. Returns each file that could not be read, as
    /// (service, source, why): nothing is rendered without its files.
    pub fn read_files<E: std::fmt::Display>(
        &mut self,
        mut read: impl FnMut(&str) -> Result<String, E>,
    ) -> Vec<(String, String, String)> {
        let mut failed = Vec::new();
        for s in &mut self.services {
            for f in &mut s.files {
                match read(&f.source) {
                    Ok(text) => f.content = Some(text),
                    Err(e) => failed.push((s.name.clone(), f.source.clone(), e.to_string())),
                }
            }
        }
        failed
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().fold(String::new(), |mut out, b| {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A declared secret and where its value is read from when berth runs the stack.
#[derive(Debug, Clone, Serialize)]
pub struct SecretPlan {
    pub name: String,
    /// Environment variable holding the value, unless `file` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcp: Option<String>,
    /// Kubernetes Secret object and key.
    pub kubernetes: (String, String),
    /// Services and dependencies that read it.
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonitoringPlan {
    pub enabled: bool,
    pub scrape_interval: Duration,
    pub scrape_targets: Vec<ScrapeTarget>,
    pub alerts: Vec<AlertPlan>,
    pub receivers: Vec<ReceiverPlan>,
    pub dashboards: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceiverPlan {
    pub name: String,
    #[serde(flatten)]
    pub receiver: berth_spec::Receiver,
}

/// The default environment-variable name of a secret: `BERTH_SECRET_<NAME>`.
pub fn secret_env_name(secret: &str) -> String {
    format!("BERTH_SECRET_{}", secret.to_uppercase().replace('-', "_"))
}

/// Builds the plan for a spec that passed validation. `environment` names
/// the overlay the spec was loaded with.
pub fn build(spec: &Spec, environment: Option<&str>) -> Plan {
    let mut notes = Vec::new();
    let mut services: Vec<ServicePlan> = spec.services.iter().map(|(name, s)| service::plan(spec, name, s)).collect();
    if let Some(tracing) = &spec.monitoring.tracing {
        for s in &mut services {
            service::trace(s, tracing, &spec.name, environment);
        }
    }
    let dependencies: Vec<DependencyPlan> =
        spec.dependencies.iter().map(|(name, d)| dependency::plan(spec, name, d)).collect();
    let backups = dependencies
        .iter()
        .filter_map(|d| d.backup.clone())
        .chain(services.iter().flat_map(|s| s.volumes.iter().filter_map(|v| v.backup.clone())))
        .collect();
    let edge = spec.edge.as_ref().map(|e| edge::plan(spec, e));
    let secrets = secrets(spec);
    let monitoring = alerts::plan(spec, &services, &dependencies, edge.as_ref(), &mut notes);
    Plan {
        project: spec.name.clone(),
        environment: environment.map(str::to_owned),
        services,
        dependencies,
        secrets,
        edge,
        monitoring,
        tracing: spec.monitoring.tracing.clone(),
        backups,
        targets: spec.targets.clone(),
        notes,
    }
}

fn secrets(spec: &Spec) -> Vec<SecretPlan> {
    spec.secrets
        .iter()
        .map(|(name, secret)| {
            let mut used_by: Vec<String> = spec
                .services
                .iter()
                .filter(|(_, s)| s.secrets.values().any(|v| v == name))
                .map(|(n, _)| n.clone())
                .chain(
                    spec.dependencies
                        .iter()
                        .filter(|(_, d)| d.password.as_ref().is_some_and(|p| &p.secret == name))
                        .map(|(n, _)| n.clone()),
                )
                .chain(
                    spec.dependencies
                        .iter()
                        .filter(|(_, d)| {
                            d.backup.as_ref().and_then(|b| b.signing_key.as_ref()).is_some_and(|k| &k.secret == name)
                        })
                        .map(|(n, _)| format!("{n} backups")),
                )
                .collect();
            if spec.edge.as_ref().and_then(|e| e.auth.as_ref()).is_some_and(|a| {
                a.api_keys.iter().any(|k| k.secret.as_ref() == Some(name))
                    || a.jwt.as_ref().and_then(|j| j.secret.as_ref()) == Some(name)
            }) {
                used_by.push("edge".to_owned());
            }
            if spec.monitoring.receivers.values().any(|r| {
                r.slack.as_ref().is_some_and(|s| &s.webhook_secret == name)
                    || r.webhook.as_ref().and_then(|w| w.url_secret.as_ref()) == Some(name)
                    || r.email.as_ref().and_then(|e| e.password_secret.as_ref()) == Some(name)
            }) {
                used_by.push("alertmanager".to_owned());
            }
            used_by.sort();
            used_by.dedup();
            SecretPlan {
                name: name.clone(),
                env: match &secret.file {
                    Some(_) => None,
                    None => Some(secret.env.clone().unwrap_or_else(|| secret_env_name(name))),
                },
                file: secret.file.clone(),
                aws: secret.aws.clone(),
                gcp: secret.gcp.clone(),
                kubernetes: secret
                    .kubernetes
                    .as_ref()
                    .map_or_else(|| (spec.name.clone(), name.clone()), |k| (k.name.clone(), k.key.clone())),
                used_by,
            }
        })
        .collect()
}
