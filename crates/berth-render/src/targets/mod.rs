//! The closed set of targets. Adding one means a variant here, its module,
//! and a validator test in `tests/validators.rs`.

mod alertmanager;
mod cloudformation;
mod cloudrun;
mod compose;
mod diagram;
mod ecs;
mod grafana;
mod helm;
pub(crate) mod host;
mod kubernetes;
mod nginx;
mod prometheus;
mod runbook;
mod scheduled;
mod systemd;

use std::fmt;
use std::str::FromStr;

use berth_plan::Plan;

use crate::Output;

/// Declares the targets once: the enum, `ALL`, names and one-line help
/// come from this list, so none of them can miss a target.
macro_rules! targets {
    ($($variant:ident => $name:literal, $about:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Target {
            $($variant,)*
        }

        impl Target {
            pub const ALL: &[Self] = &[$(Self::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// One line for `--help`.
            pub fn about(self) -> &'static str {
                match self {
                    $(Self::$variant => $about,)*
                }
            }
        }
    };
}

targets! {
    Compose => "compose", "Docker Compose file with the edge, services and dependencies";
    Kubernetes => "kubernetes", "typed Kubernetes manifests with a kustomization";
    Helm => "helm", "the Kubernetes objects as a chart with values for image, replicas and resources";
    Nginx => "nginx", "nginx.conf for an edge in front of services on this host";
    Systemd => "systemd", "hardened systemd units and backup timers";
    Prometheus => "prometheus", "scrape config, alert rules and their promtool unit tests";
    Alertmanager => "alertmanager", "routes, receivers and inhibition rules";
    Grafana => "grafana", "a dashboard per service and provisioning files";
    Ecs => "ecs", "ECS Fargate task and service definitions";
    Cloudrun => "cloudrun", "Knative service YAML for Google Cloud Run";
    Diagram => "diagram", "a picture of the deployment, as Mermaid and SVG";
    Runbook => "runbook", "a Markdown operations guide: deploy, roll back, back up, restore, rotate secrets, respond to alerts";
    Cloudformation => "cloudformation", "the AWS stack: load balancer, security groups, ECS services, RDS, ElastiCache";
}

impl Target {
    pub fn render(self, plan: &Plan, spec_text: &str) -> Output {
        match self {
            Self::Compose => compose::render(plan, spec_text),
            Self::Kubernetes => kubernetes::render(plan, spec_text),
            Self::Helm => helm::render(plan, spec_text),
            Self::Nginx => nginx::render(plan, nginx::Upstreams::Host),
            Self::Systemd => systemd::render(plan),
            Self::Prometheus => prometheus::render(plan),
            Self::Alertmanager => alertmanager::render(plan),
            Self::Grafana => grafana::render(plan),
            Self::Ecs => ecs::render(plan),
            Self::Cloudformation => cloudformation::render(plan, spec_text),
            Self::Cloudrun => cloudrun::render(plan),
            Self::Diagram => diagram::render(plan),
            Self::Runbook => runbook::render(plan),
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
