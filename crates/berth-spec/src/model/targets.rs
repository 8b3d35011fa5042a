use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{ByteSize, Cpu};

/// Settings only one deployment target reads. Everything here is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<ComposeTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<SystemdTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<EcsTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudrun: Option<CloudRunTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudformation: Option<CloudformationTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<NginxTarget>,
}

/// A security feature of the edge. A target that cannot enforce one the
/// spec asks for refuses to render (error `R002`) unless the target runs
/// berth's own edge (`gateway: true`: Kubernetes, compose, CloudFormation) or the spec
/// accepts the gap for that target in `accept_unenforced`, with a reason
/// (who enforces it instead: a WAF, Cloud Armor, the service itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityFeature {
    /// `auth` on a route: API keys and JWTs checked at the edge.
    Auth,
    /// `allow` on a route: only these addresses reach it.
    Allowlist,
    /// `rate_limit` on a route, counted per client address.
    RateLimit,
    /// A rate limit counted per API key or token subject (`by: api-key`).
    RateLimitByKey,
    /// The response headers of `edge.headers` (HSTS, X-Frame-Options,
    /// Referrer-Policy, CSP, extra headers).
    Headers,
    /// `edge.tls.min_version`.
    TlsMinVersion,
    /// `body_limit` on the edge or a route.
    BodyLimit,
    /// `host` on a route: the route answers on that host only.
    HostRouting,
    /// Only `edge.trusted_proxies` may set the client address in `X-Forwarded-For`.
    TrustedProxies,
    /// A service's `egress` to networks: only those addresses, on those ports.
    Egress,
    /// A service's `egress` to host names: only those hosts, on those ports.
    EgressHosts,
}

impl SecurityFeature {
    pub const ALL: &[Self] = &[
        Self::Auth,
        Self::Allowlist,
        Self::RateLimit,
        Self::RateLimitByKey,
        Self::Headers,
        Self::TlsMinVersion,
        Self::BodyLimit,
        Self::HostRouting,
        Self::TrustedProxies,
        Self::Egress,
        Self::EgressHosts,
    ];

    /// The name the spec uses (`accept_unenforced` keys).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Allowlist => "allowlist",
            Self::RateLimit => "rate-limit",
            Self::RateLimitByKey => "rate-limit-by-key",
            Self::Headers => "headers",
            Self::TlsMinVersion => "tls-min-version",
            Self::BodyLimit => "body-limit",
            Self::HostRouting => "host-routing",
            Self::TrustedProxies => "trusted-proxies",
            Self::Egress => "egress",
            Self::EgressHosts => "egress-hosts",
        }
    }
}

/// Security features the spec asks for that this target may leave to
/// something else, each with the reason (who enforces it instead). Without
/// an entry, a feature the target cannot enforce is an error.
pub type AcceptUnenforced = BTreeMap<SecurityFeature, String>;

/// Kubernetes.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesTarget {
    /// Namespace for every object. Default: the project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `ingressClassName` of the Ingress. Default: the cluster default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class: Option<String>,
    /// StorageClass for volumes. Default: the cluster default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Also render Prometheus Operator ServiceMonitors. Default false.
    #[serde(default)]
    pub service_monitor: bool,
    /// Secrets for pulling private images.
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// Annotations added to every object's metadata.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Run berth's own edge (`berth edge`, the proxy `berth up` runs) in
    /// front of the services instead of an Ingress: a Deployment of `berth edge` behind a LoadBalancer Service that keeps clients' addresses, so every
    /// route feature (auth, allowlists, rate limits per client or key,
    /// headers, body limits, timeouts) is enforced as the spec says.
    /// Default false.
    #[serde(default)]
    pub gateway: bool,
    /// Namespaces the ingress controller runs in (`ingress-nginx`): only
    /// they reach the routed ports. Default: any namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_from: Vec<String>,
    /// Namespaces Prometheus scrapes from (`monitoring`): only they reach
    /// metrics and exporter ports. Default: any namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics_from: Vec<String>,
    /// Security features left unenforced on purpose, each with its reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accept_unenforced: AcceptUnenforced,
}

/// Docker Compose.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeTarget {
    /// Compose project name. Default: the project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Run berth's own edge (`berth edge`, the proxy `berth up` runs) in
    /// front of the services instead of nginx, so every
    /// route feature (auth, allowlists, rate limits per client or key,
    /// headers, body limits, timeouts) is enforced as the spec says.
    /// Default false.
    #[serde(default)]
    pub gateway: bool,
    /// Security features left unenforced on purpose, each with its reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accept_unenforced: AcceptUnenforced,
}

/// systemd units on a host.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemdTarget {
    /// System user the units run as. Default: the project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Where the service binaries live. Default `/opt/<project>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_dir: Option<String>,
    /// Harden the host too: an nftables firewall that lets in only SSH and
    /// the edge's ports, kernel settings for a proxy host, a fail2ban jail
    /// on the edge's access log and unattended security upgrades, as files
    /// under `host/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostHardening>,
    /// Security features left unenforced on purpose, each with its reason.
    /// Also read by `berth up`, which runs the same plain processes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accept_unenforced: AcceptUnenforced,
}

/// What the systemd target renders for the host under `host/`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostHardening {
    /// The SSH port the firewall leaves open. Default 22.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
    /// Networks SSH is open to (CIDRs). Default: every address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_from: Vec<String>,
    /// fail2ban bans a client address that gets this many refusals (401,
    /// 403, 429) from the edge within `ban_window`. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_after: Option<u32>,
    /// Default `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_window: Option<super::units::Duration>,
    /// How long a ban lasts. Default `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban_time: Option<super::units::Duration>,
}

/// AWS ECS on Fargate.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcsTarget {
    /// ECS cluster name. Default: the project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// AWS region, such as `eu-west-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Task CPU units (256, 512, 1024, 2048, 4096). Default: from the
    /// services' CPU limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Task memory in MiB. Default: from the services' memory limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Role ECS uses to pull images and read secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// Role the task's code runs with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// Subnets for the tasks and load balancer.
    #[serde(default)]
    pub subnets: Vec<String>,
    /// VPC the stack lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Security features left unenforced on purpose, each with its reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accept_unenforced: AcceptUnenforced,
}

/// Google Cloud Run.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudRunTarget {
    /// Region, such as `europe-west1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// CPU per instance. Default: the service's CPU limit, or 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Memory per instance. Default: the service's memory limit, or `512Mi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Requests one instance handles at once. Default 80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Instances kept warm. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_instances: Option<u32>,
    /// Most instances. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    /// Security features left unenforced on purpose, each with its reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accept_unenforced: AcceptUnenforced,
}

/// The AWS stack (CloudFormation).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudformationTarget {
    /// Run berth's own edge (`berth edge`) as an ECS service behind the
    /// ALB: the ALB terminates TLS and forwards everything to it, the edge
    /// enforces every route feature (auth, allowlists, rate limits per
    /// client or key, headers, body limits) and reaches the services through
    /// Cloud Map DNS, and the services accept traffic from the edge only.
    /// Default false.
    #[serde(default)]
    pub gateway: bool,
    /// Security features left unenforced on purpose, each with its reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accept_unenforced: AcceptUnenforced,
}

/// nginx in front of services on this host.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NginxTarget {
    /// Security features left unenforced on purpose, each with its reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accept_unenforced: AcceptUnenforced,
}
