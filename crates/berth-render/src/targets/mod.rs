//! The closed set of targets. Adding one means a variant here, its module,
//! and a validator test in `tests/validators.rs`.

mod alertmanager;
mod compose;
mod grafana;
mod kubernetes;
mod nginx;
mod prometheus;
mod systemd;

use std::fmt;
use std::str::FromStr;

use berth_plan::Plan;

use crate::Output;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Compose,
    Kubernetes,
    Nginx,
    Systemd,
    Prometheus,
    Alertmanager,
    Grafana,
}

impl Target {
    pub const ALL: &[Self] = &[
        Self::Compose,
        Self::Kubernetes,
        Self::Nginx,
        Self::Systemd,
        Self::Prometheus,
        Self::Alertmanager,
        Self::Grafana,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Compose => "compose",
            Self::Kubernetes => "kubernetes",
            Self::Nginx => "nginx",
            Self::Systemd => "systemd",
            Self::Prometheus => "prometheus",
            Self::Alertmanager => "alertmanager",
            Self::Grafana => "grafana",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Self::Compose => "Docker Compose file with the edge, services and dependencies",
            Self::Kubernetes => "typed Kubernetes manifests with a kustomization",
            Self::Nginx => "nginx.conf for an edge in front of services on this host",
            Self::Systemd => "hardened systemd units and backup timers",
            Self::Prometheus => "scrape config, alert rules and their promtool unit tests",
            Self::Alertmanager => "routes, receivers and inhibition rules",
            Self::Grafana => "a dashboard per service and provisioning files",
        }
    }

    pub fn render(self, plan: &Plan) -> Output {
        match self {
            Self::Compose => compose::render(plan),
            Self::Kubernetes => kubernetes::render(plan),
            Self::Nginx => nginx::render(plan, nginx::Upstreams::Host),
            Self::Systemd => systemd::render(plan),
            Self::Prometheus => prometheus::render(plan),
            Self::Alertmanager => alertmanager::render(plan),
            Self::Grafana => grafana::render(plan),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.iter().copied().find(|t| t.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
            format!("unknown target `{s}`; targets: {}, all", names.join(", "))
        })
    }
}

/// The environment variable a secret's value reaches berth's own jobs in.
pub fn secret_env_var(secret: &str) -> String {
    berth_plan::secret_env_name(secret)
}
