//! What each target does with each feature of a plan, as data.
//!
//! Every feature a plan can ask for is a [`Feature`]; [`uses`] lists the
//! ones a plan uses by destructuring the plan's types exhaustively, so a new
//! field cannot be added to the plan without deciding here whether it is a
//! feature. [`support`] is the one table: for each target (through the proxy
//! in front of it, its [`Front`]) a feature is native, approximated (how), or
//! unsupported (why). [`judge`] turns a plan's uses into diagnostics:
//!
//! - a **security** feature a target cannot enforce is an error (`R002`)
//!   naming the feature, where the spec asks for it, the target, and the two
//!   ways out (another front that enforces it, or `accept_unenforced` with
//!   a reason);
//! - any other unsupported feature is a warning (`R001`);
//! - an approximation is a warning (`R003`) saying how it was approximated.
//!
//! `docs/targets.md` is generated from the same table ([`matrix_markdown`]).

use std::fmt;

use berth_plan::{EdgePlan, JobTrigger, Plan, Replicas, RoutePlan, ServicePlan};
use berth_spec::{RateKey, SecurityFeature, Targets, TlsVersion};

use crate::Target;

/// A feature of a plan that a target may or may not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    Security(SecurityFeature),
    /// berth's default security headers, when the spec sets none.
    DefaultHeaders,
    /// berth's default body limit, when the spec sets none.
    DefaultBodyLimit,
    RouteTimeout,
    WebSocket,
    /// A service that keeps each client on one replica (`sticky`).
    StickySessions,
    /// A service that keeps each client on one replica by a cookie (`sticky: cookie`).
    StickyCookie,
    StripPrefix,
    Fallback,
    /// A route's requests shared by weight among services (`split`).
    TrafficSplit,
    RedirectHttps,
    Gzip,
    StartupProbe,
    LivenessProbe,
    ReadinessProbe,
    Drain,
    Autoscaling,
    FixedReplicas,
    ServiceSizing,
    PersistentVolumes,
    Dependencies,
    /// PgBouncer in front of PostgreSQL (`pooler`).
    Pooler,
    Backups,
    /// A persistent volume's scheduled backups (`volumes.<name>.backup`).
    VolumeBackups,
    /// A job that gates each deploy (`before_deploy`).
    DeployGate,
    ScheduledJobs,
    /// A job only `berth run` (or the target's own command) starts.
    OnDemandJobs,
    Gpus,
    Devices,
    Placement,
    /// OpenTelemetry wiring (`monitoring.tracing`).
    Tracing,
    /// `autoscale.scale_up` / `scale_down`.
    ScalingPace,
    /// Configuration files mounted read-only (`files`).
    ConfigFiles,
}

impl Feature {
    pub const ALL: &[Self] = &[
        Self::Security(SecurityFeature::Auth),
        Self::Security(SecurityFeature::Allowlist),
        Self::Security(SecurityFeature::RateLimit),
        Self::Security(SecurityFeature::RateLimitByKey),
        Self::Security(SecurityFeature::Headers),
        Self::Security(SecurityFeature::TlsMinVersion),
        Self::Security(SecurityFeature::BodyLimit),
        Self::Security(SecurityFeature::HostRouting),
        Self::Security(SecurityFeature::TrustedProxies),
        Self::Security(SecurityFeature::Egress),
        Self::Security(SecurityFeature::EgressHosts),
        Self::DefaultHeaders,
        Self::DefaultBodyLimit,
        Self::RouteTimeout,
        Self::WebSocket,
        Self::StickySessions,
        Self::StickyCookie,
        Self::StripPrefix,
        Self::Fallback,
        Self::TrafficSplit,
        Self::RedirectHttps,
        Self::Gzip,
        Self::StartupProbe,
        Self::LivenessProbe,
        Self::ReadinessProbe,
        Self::Drain,
        Self::Autoscaling,
        Self::FixedReplicas,
        Self::ServiceSizing,
        Self::PersistentVolumes,
        Self::Dependencies,
        Self::Pooler,
        Self::Backups,
        Self::VolumeBackups,
        Self::DeployGate,
        Self::ScheduledJobs,
        Self::OnDemandJobs,
        Self::Gpus,
        Self::Devices,
        Self::Placement,
        Self::Tracing,
        Self::ScalingPace,
        Self::ConfigFiles,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Security(s) => s.name(),
            Self::DefaultHeaders => "default-headers",
            Self::DefaultBodyLimit => "default-body-limit",
            Self::RouteTimeout => "route-timeout",
            Self::WebSocket => "websocket",
            Self::StickySessions => "sticky-sessions",
            Self::StickyCookie => "sticky-cookie",
            Self::StripPrefix => "strip-prefix",
            Self::Fallback => "fallback",
            Self::TrafficSplit => "traffic-split",
            Self::RedirectHttps => "redirect-https",
            Self::Gzip => "gzip",
            Self::StartupProbe => "startup-probe",
            Self::LivenessProbe => "liveness-probe",
            Self::ReadinessProbe => "readiness-probe",
            Self::Drain => "drain",
            Self::Autoscaling => "autoscaling",
            Self::FixedReplicas => "replicas",
            Self::ServiceSizing => "service-sizing",
            Self::PersistentVolumes => "persistent-volumes",
            Self::Dependencies => "dependencies",
            Self::Pooler => "pooler",
            Self::Backups => "backups",
            Self::VolumeBackups => "volume-backups",
            Self::DeployGate => "deploy-gate",
            Self::ScheduledJobs => "scheduled-jobs",
            Self::OnDemandJobs => "on-demand-jobs",
            Self::Gpus => "gpus",
            Self::Devices => "devices",
            Self::Placement => "placement",
            Self::Tracing => "tracing",
            Self::ScalingPace => "scaling-pace",
            Self::ConfigFiles => "config-files",
        }
    }

    /// What the spec says, in a few words, for the matrix.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Security(SecurityFeature::Auth) => "route `auth` (API keys, JWT)",
            Self::Security(SecurityFeature::Allowlist) => "route `allow` (address allowlist)",
            Self::Security(SecurityFeature::RateLimit) => "rate limit per client address",
            Self::Security(SecurityFeature::RateLimitByKey) => "rate limit per API key / token (`by: api-key`)",
            Self::Security(SecurityFeature::Headers) => "security response headers (HSTS, CSP, ...)",
            Self::Security(SecurityFeature::TlsMinVersion) => "`tls.min_version`",
            Self::Security(SecurityFeature::BodyLimit) => "request body limit",
            Self::Security(SecurityFeature::HostRouting) => "route `host`",
            Self::Security(SecurityFeature::TrustedProxies) => "`trusted_proxies` for X-Forwarded-For",
            Self::Security(SecurityFeature::Egress) => "service `egress` to networks (CIDRs)",
            Self::Security(SecurityFeature::EgressHosts) => "service `egress` to host names",
            Self::DefaultHeaders => "berth's default security headers",
            Self::DefaultBodyLimit => "berth's default body limit (1 MiB)",
            Self::RouteTimeout => "route timeout",
            Self::WebSocket => "WebSocket routes",
            Self::StickySessions => "sticky sessions by client address (`sticky: client-ip`)",
            Self::StickyCookie => "sticky sessions by a cookie the proxy sets (`sticky: cookie`)",
            Self::StripPrefix => "`strip_prefix`",
            Self::Fallback => "route `fallback` service",
            Self::TrafficSplit => "route `split` (shares of its requests for other services, by weight)",
            Self::RedirectHttps => "HTTP to HTTPS redirect",
            Self::Gzip => "gzip compression",
            Self::StartupProbe => "startup probe",
            Self::LivenessProbe => "liveness probe (restart)",
            Self::ReadinessProbe => "readiness probe (traffic)",
            Self::Drain => "drain before stop (`drain_timeout`)",
            Self::Autoscaling => "autoscaling",
            Self::FixedReplicas => "fixed replica count",
            Self::ServiceSizing => "per-service CPU and memory",
            Self::PersistentVolumes => "persistent volumes, one per replica",
            Self::Dependencies => "PostgreSQL and Redis",
            Self::Pooler => "PgBouncer in front of PostgreSQL (`pooler`)",
            Self::Backups => "scheduled backups",
            Self::VolumeBackups => "scheduled backups of volumes",
            Self::DeployGate => "job run before each deploy (`before_deploy`), failure stops it",
            Self::ScheduledJobs => "job on a cron `schedule`",
            Self::OnDemandJobs => "job run on demand (`berth run`)",
            Self::Gpus => "GPUs per replica (`resources.gpu`)",
            Self::Devices => "host device files (`devices`)",
            Self::Placement => "node selectors and tolerations (`placement`)",
            Self::Tracing => "OpenTelemetry export to a collector (`monitoring.tracing`)",
            Self::ScalingPace => "scaling pace (`autoscale.scale_up` / `scale_down`)",
            Self::ConfigFiles => "configuration files mounted read-only (`files`)",
        }
    }

    /// Edge features are judged by the proxy in front of a target.
    fn on_edge(self) -> bool {
        matches!(
            self,
            Self::Security(
                SecurityFeature::Auth
                    | SecurityFeature::Allowlist
                    | SecurityFeature::RateLimit
                    | SecurityFeature::RateLimitByKey
                    | SecurityFeature::Headers
                    | SecurityFeature::TlsMinVersion
                    | SecurityFeature::BodyLimit
                    | SecurityFeature::HostRouting
                    | SecurityFeature::TrustedProxies
            ) | Self::DefaultHeaders
                | Self::DefaultBodyLimit
                | Self::RouteTimeout
                | Self::WebSocket
                | Self::StickySessions
                | Self::StickyCookie
                | Self::StripPrefix
                | Self::Fallback
                | Self::TrafficSplit
                | Self::RedirectHttps
                | Self::Gzip
        )
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a target carries a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Native,
    /// Carried with a difference, said here.
    Approximated(&'static str),
    /// Not carried; the reason.
    Unsupported(&'static str),
    /// The target has nothing to do with the feature (a dashboard and rate limits).
    NotApplicable,
}

/// The proxy in front of a target's services: edge features are judged by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// berth's own edge: `berth up`, or `berth edge` as a target's gateway.
    Berth,
    /// The rendered nginx (the nginx target, and compose's nginx service).
    Nginx,
    /// A Kubernetes Ingress for ingress-nginx (`ingress_class: nginx`).
    IngressNginx,
    /// A Kubernetes Ingress for any other controller.
    Ingress,
    /// The AWS Application Load Balancer (CloudFormation).
    Alb,
    /// Cloud Run's own HTTPS front.
    CloudRun,
    /// Nothing: the target renders no proxy (ECS task definitions).
    Nothing,
    /// The target has no traffic (dashboards, alerts, diagrams).
    NotServing,
}

impl Front {
    pub const ALL: &[Self] =
        &[Self::Berth, Self::Nginx, Self::IngressNginx, Self::Ingress, Self::Alb, Self::CloudRun, Self::Nothing];

    pub fn name(self) -> &'static str {
        match self {
            Self::Berth => "berth edge",
            Self::Nginx => "nginx",
            Self::IngressNginx => "Ingress (ingress-nginx)",
            Self::Ingress => "Ingress (other)",
            Self::Alb => "ALB",
            Self::CloudRun => "Cloud Run",
            Self::Nothing => "none (ECS)",
            Self::NotServing => "-",
        }
    }
}

/// The front of `target` with the spec's target settings.
pub fn front(target: Target, targets: &Targets) -> Front {
    match target {
        Target::Nginx => Front::Nginx,
        Target::Compose if targets.compose.as_ref().is_some_and(|c| c.gateway) => Front::Berth,
        Target::Compose => Front::Nginx,
        Target::Kubernetes | Target::Helm => match targets.kubernetes.as_ref() {
            Some(k) if k.gateway => Front::Berth,
            Some(k) if k.ingress_class.as_deref() == Some("nginx") => Front::IngressNginx,
            _ => Front::Ingress,
        },
        Target::Cloudformation if targets.cloudformation.as_ref().is_some_and(|c| c.gateway) => Front::Berth,
        Target::Cloudformation => Front::Alb,
        Target::Ecs => Front::Nothing,
        Target::Cloudrun => Front::CloudRun,
        // The systemd target puts services on a host; the nginx target is their edge.
        Target::Systemd
        | Target::Prometheus
        | Target::Alertmanager
        | Target::Grafana
        | Target::Diagram
        | Target::Runbook => Front::NotServing,
    }
}

/// The table for edge features, by front.
pub fn edge_support(front: Front, feature: Feature) -> Support {
    // berth's defaults go as far as the features the spec can ask for.
    let feature = match feature {
        Feature::DefaultHeaders => Feature::Security(SecurityFeature::Headers),
        Feature::DefaultBodyLimit => Feature::Security(SecurityFeature::BodyLimit),
        f => f,
    };
    use Feature as F;
    use Front::*;
    use SecurityFeature as S;
    use Support::*;
    match (front, feature) {
        (Berth, _) => Native,
        (NotServing, _) => NotApplicable,
        (Nothing, _) => {
            Unsupported("ECS task definitions have no proxy in front; the `cloudformation` target adds the ALB")
        }
        (_, F::Security(S::Auth)) => Unsupported(
            "checking API keys or JWTs needs the keys in the proxy's config or a plugin; berth renders neither",
        ),
        (_, F::Security(S::RateLimitByKey)) => Unsupported(
            "only berth's edge counts per authenticated key; counting per presented header lets a client rotate strings",
        ),
        (Nginx, _) => Native,
        (IngressNginx, F::Security(S::Allowlist | S::RateLimit | S::BodyLimit | S::HostRouting)) => Native,
        (IngressNginx, F::RouteTimeout | F::WebSocket | F::RedirectHttps | F::StickySessions | F::StickyCookie) => {
            Native
        }
        // A canary Ingress beside the route's; the renderer names the
        // splits one canary cannot say (R001).
        (IngressNginx, F::TrafficSplit) => Native,
        (Ingress, F::TrafficSplit) => Unsupported(
            "a standard Ingress path has one backend; ingress-nginx (`ingress_class: nginx`) splits by weight",
        ),
        (Alb, F::TrafficSplit) => Native,
        (CloudRun, F::TrafficSplit) => {
            Unsupported("Cloud Run splits traffic between revisions of one service, not between services")
        }
        (Ingress, F::StickyCookie) => {
            Unsupported("the standard Ingress has no affinity; ingress-nginx (`ingress_class: nginx`) sets a cookie")
        }
        (Alb, F::StickyCookie) => Unsupported(
            "an ALB keeps clients by its own AWSALB cookie when target group stickiness is on; berth does not render it",
        ),
        (CloudRun, F::StickyCookie) => {
            Unsupported("Cloud Run's session affinity is a best-effort cookie of Google's; berth does not render it")
        }
        (Ingress, F::StickySessions) => Unsupported(
            "the standard Ingress has no affinity; ingress-nginx (`ingress_class: nginx`) hashes by address",
        ),
        (Alb, F::StickySessions) => Unsupported(
            "an ALB keeps clients by its own cookie, not by address; target group stickiness is not rendered",
        ),
        (CloudRun, F::StickySessions) => Unsupported("Cloud Run's session affinity is a best-effort cookie"),
        (IngressNginx, F::Security(S::Headers)) => Unsupported(
            "ingress-nginx sets response headers only through snippets (disabled by default) or the controller's ConfigMap",
        ),
        (IngressNginx | Ingress, F::Security(S::TlsMinVersion)) => {
            Unsupported("the TLS protocols are a setting of the whole controller, not of an Ingress")
        }
        (IngressNginx | Ingress, F::Security(S::TrustedProxies)) => {
            Unsupported("which proxies' X-Forwarded-For is believed is a setting of the whole controller")
        }
        (IngressNginx | Ingress, F::StripPrefix) => Unsupported("the Ingress forwards the path unchanged"),
        (IngressNginx | Ingress, F::Fallback) => Unsupported("an Ingress path has one backend"),
        (IngressNginx | Ingress, F::Gzip) => Unsupported("compression is a setting of the whole controller"),
        (Ingress, F::Security(S::HostRouting)) => Native,
        (Ingress, F::Security(_)) => {
            Unsupported("the standard Ingress has no field for it; ingress-nginx (`ingress_class: nginx`) has")
        }
        (Ingress, F::RouteTimeout) => {
            Unsupported("the standard Ingress has no timeouts; the controller's defaults apply")
        }
        (Ingress, F::WebSocket | F::RedirectHttps) => {
            Approximated("left to the controller; most pass WebSockets and redirect to HTTPS")
        }
        (Alb, F::Security(S::Allowlist)) => Native,
        (Alb, F::Security(S::HostRouting)) => Native,
        (Alb, F::Security(S::TlsMinVersion)) => Native,
        (Alb, F::Security(S::Headers)) => Unsupported("the rendered ALB adds no response headers"),
        (Alb, F::Security(S::RateLimit)) => Unsupported("an ALB has no rate limits (WAF rate rules are not rendered)"),
        (Alb, F::Security(S::BodyLimit)) => Unsupported("an ALB has no request body limit"),
        (Alb, F::Security(S::TrustedProxies)) => Unsupported("the ALB appends to X-Forwarded-For whoever sent it"),
        (Alb, F::RouteTimeout) => {
            Approximated("one idle timeout for the whole load balancer: the longest route's (at most 4000 s)")
        }
        (Alb, F::WebSocket | F::RedirectHttps) => Native,
        (Alb, F::StripPrefix) => Unsupported("an ALB forwards the path unchanged"),
        (Alb, F::Fallback) => Unsupported("an ALB rule forwards to one target group"),
        (Alb, F::Gzip) => Unsupported("an ALB does not compress"),
        (CloudRun, F::RedirectHttps | F::WebSocket) => Native,
        (CloudRun, F::RouteTimeout) => {
            Approximated("one request timeout per service: its longest route's (at most 3600 s)")
        }
        (CloudRun, F::Gzip) => Approximated("Google's front end compresses when the client accepts it"),
        (CloudRun, F::Security(S::Headers)) => Unsupported("Cloud Run adds no response headers"),
        (CloudRun, F::Security(S::TlsMinVersion)) => Unsupported("Cloud Run's TLS versions are Google's to set"),
        (CloudRun, F::Security(S::HostRouting)) => {
            Unsupported("a Cloud Run service answers on its own URLs; map domains to services outside the spec")
        }
        (CloudRun, F::Security(_)) => {
            Unsupported("Cloud Run's ingress is all or internal; put Cloud Armor or an API gateway in front")
        }
        (CloudRun, F::StripPrefix | F::Fallback) => Unsupported("every route is its own service URL"),
        (_, _) => Unsupported("not an edge feature"),
    }
}

/// The table for platform features, by target.
pub fn platform_support(target: Target, feature: Feature) -> Support {
    use Feature as F;
    use Support::*;
    use Target as T;
    use berth_spec::SecurityFeature as S;
    match (target, feature) {
        (T::Prometheus | T::Alertmanager | T::Grafana | T::Diagram | T::Runbook | T::Nginx, _) => NotApplicable,
        (T::Kubernetes | T::Helm, F::Security(S::EgressHosts)) => Unsupported(
            "a NetworkPolicy matches addresses, not host names: write the provider's networks as CIDRs, or accept              the gap and the host's ports are open to every address",
        ),
        (T::Compose, F::Security(S::Egress | S::EgressHosts)) => Unsupported(
            "compose has no egress filter: a network reaches nothing outside (`internal`) or everything; accepted,              the service joins an `outbound` network that reaches everything",
        ),
        (T::Systemd, F::Security(S::Egress | S::EgressHosts)) => Unsupported(
            "units (and `berth up`'s processes) use the host's network and nothing filters their connections;              accepted, the host's firewall or an egress proxy must",
        ),
        (T::Ecs | T::Cloudformation, F::Security(S::Egress | S::EgressHosts)) => Unsupported(
            "Fargate pulls images and ships logs through the task's security group, which therefore stays open to              HTTPS anywhere without the VPC endpoints berth does not render",
        ),
        (T::Cloudrun, F::Security(S::Egress | S::EgressHosts)) => {
            Unsupported("Cloud Run sends all egress out or all through a VPC; filter it with the VPC's firewall rules")
        }
        (T::Kubernetes | T::Helm, F::VolumeBackups) => Unsupported(
            "a claim belongs to the pods of its workload and a ReadWriteOnce claim attaches to one node: back it up \
             with the storage's own snapshots (a VolumeSnapshot schedule, Velero), not a job berth renders",
        ),
        (T::Kubernetes, F::DeployGate) => Approximated(
            "a Job Helm runs as a `pre-upgrade` hook; with plain `kubectl apply`, apply `jobs/` and \
             `kubectl wait --for=condition=complete` before the rest (the rendered README says how)",
        ),
        (T::Kubernetes | T::Helm, F::OnDemandJobs) => {
            Approximated("a suspended CronJob: `kubectl create job --from=cronjob/<service>-<job> <name>` runs it")
        }
        (T::Kubernetes | T::Helm, F::Devices) => Unsupported(
            "a pod reaches host devices through a device plugin; a hostPath of the device file is refused by the \
             restricted Pod Security profile berth renders for",
        ),
        (T::Kubernetes | T::Helm, _) => Native,
        (T::Compose, F::StartupProbe) => Approximated("the healthcheck's `start_period` covers the startup probe"),
        (T::Compose, F::LivenessProbe) => {
            Unsupported("Docker marks a container unhealthy but does not restart it (`restart` acts on exits only)")
        }
        (T::Compose, F::ReadinessProbe) => Approximated(
            "the healthcheck gates `depends_on: service_healthy`; nginx keeps sending traffic to an unhealthy replica",
        ),
        (T::Compose, F::Autoscaling) => Approximated("runs the autoscaler's minimum; compose does not scale"),
        (T::Compose, F::PersistentVolumes) => {
            Approximated("one named volume shared by every replica (Kubernetes gives each replica its own claim)")
        }
        (T::Compose, F::Backups) => Unsupported("compose has no scheduler; run `berth backup` from cron or a timer"),
        (T::Compose, F::VolumeBackups) => Unsupported(
            "compose has no scheduler: run `berth backup <service>.<volume> --dir <the named volume's mountpoint>` \
             from cron or a timer",
        ),
        (T::Compose, F::Drain) => Approximated(
            "no drain: a stopped replica gets SIGTERM at once and `stop_grace_period` (drain plus stop timeout) to finish",
        ),
        (T::Compose, F::ScheduledJobs) => Unsupported(
            "compose has no scheduler; the job is a service under the `jobs` profile, run it from cron with \
             `docker compose run --rm <service>-<job>`",
        ),
        (T::Compose, F::OnDemandJobs) => {
            Approximated("a service under the `jobs` profile: `docker compose run --rm <service>-<job>`")
        }
        (T::Compose, F::DeployGate) => Approximated(
            "a run-once service the app `depends_on` (`service_completed_successfully`); compose enforces no \
             `timeout` or `retries`",
        ),
        (T::Compose, F::Placement) => Unsupported("compose runs every container on one host"),
        (T::Compose | T::Systemd | T::Ecs, F::ScalingPace) => NotApplicable,
        (T::Compose, F::Tracing) => Approximated(
            "services sit on the project's internal network only: the collector must run in the same compose project",
        ),
        (T::Compose, F::Gpus) => Approximated(
            "NVIDIA: a device reservation of `count` GPUs; AMD: `/dev/kfd` and `/dev/dri`, every AMD GPU of the host",
        ),
        (T::Compose, _) => Native,
        (T::Systemd, F::StartupProbe | F::LivenessProbe | F::ReadinessProbe) => {
            Unsupported("systemd restarts on exit only; `berth up` runs the probes on a host")
        }
        (T::Systemd, F::Autoscaling) => Approximated("starts the autoscaler's minimum of instances"),
        (T::Systemd, F::Drain) => Approximated(
            "no drain: nginx is not told before systemd sends SIGTERM; in-flight requests get `TimeoutStopSec`",
        ),
        (T::Systemd, F::Dependencies) => Unsupported("PostgreSQL and Redis come from the host's packages"),
        (T::Systemd, F::Pooler) => Unsupported(
            "PgBouncer comes from the host's package, like PostgreSQL: run it as `<dependency>-pooler` on port 6432 \
             with the pool the spec sets (`berth up` does)",
        ),
        (T::Systemd, F::Placement) => Unsupported("a unit runs on the host it is installed on"),
        (T::Systemd, F::Gpus) => {
            Approximated("the unit may open every GPU device of the host (`DeviceAllow=`); systemd does not count GPUs")
        }
        (T::Systemd, F::DeployGate) => Approximated(
            "a oneshot unit every instance requires and starts after: a failure keeps new instances from starting, \
             but `systemctl restart` has stopped the old ones first (use `berth up` for deploys with no downtime)",
        ),
        (T::Systemd, _) => Native,
        (T::Ecs | T::Cloudformation, F::StartupProbe) => {
            Approximated("the container health check's `startPeriod` covers it (at most 300 s)")
        }
        (T::Ecs | T::Cloudformation, F::ReadinessProbe) => {
            Approximated("the load balancer's target group health check takes traffic away")
        }
        (T::Ecs | T::Cloudformation, F::PersistentVolumes | F::VolumeBackups) => {
            Unsupported("Fargate tasks get ephemeral storage; use EFS or S3")
        }
        (T::Ecs, F::Dependencies) => Unsupported("the `cloudformation` target creates them as RDS and ElastiCache"),
        (T::Ecs | T::Cloudformation, F::Pooler) => Unsupported(
            "no RDS Proxy is rendered: services connect to the database directly (their URL and `_DIRECT` are the same)",
        ),
        (T::Ecs, F::Backups) => Unsupported("no scheduler is rendered; use the `cloudformation` target"),
        (T::Cloudformation, F::Backups) => {
            Approximated("RDS automated backups keep at most 35 days; berth's own backups are not scheduled")
        }
        (T::Ecs | T::Cloudformation, F::DeployGate | F::ScheduledJobs | F::OnDemandJobs) => Unsupported(
            "berth renders no ECS task for jobs yet (EventBridge rules, run-task before the service update)",
        ),
        (T::Cloudformation, F::ScalingPace) => Approximated(
            "target tracking has cooldowns, not windows or step limits: the stabilization windows become \
             ScaleOutCooldown and ScaleInCooldown; `max_pods` and `max_percent` are not carried",
        ),
        (T::Ecs | T::Cloudformation, F::Gpus | F::Devices) => {
            Unsupported("Fargate tasks get no GPUs and no host devices (GPUs need the EC2 launch type)")
        }
        (T::Ecs | T::Cloudformation, F::Placement) => {
            Unsupported("Fargate places tasks itself; there are no nodes to select")
        }
        (T::Ecs | T::Cloudformation, F::ConfigFiles) => Unsupported(
            "a task definition mounts no file from the repository: bake it into the image, or keep it in SSM \
             Parameter Store and read it at start",
        ),
        (T::Ecs | T::Cloudformation, _) => Native,
        (T::Cloudrun, F::ReadinessProbe) => Unsupported("Cloud Run routes to every started instance"),
        (T::Cloudrun, F::Drain) => Unsupported("Cloud Run gives an instance 10 s after SIGTERM"),
        (T::Cloudrun, F::FixedReplicas) => Approximated("`minScale` = `maxScale` = the count"),
        (T::Cloudrun, F::PersistentVolumes | F::VolumeBackups | F::Dependencies | F::Pooler | F::Backups) => {
            Unsupported("Cloud Run runs stateless containers; use Cloud SQL, Memorystore and Cloud Storage")
        }
        (T::Cloudrun, F::DeployGate | F::ScheduledJobs | F::OnDemandJobs) => {
            Unsupported("berth renders no Cloud Run job yet (`run.googleapis.com` Job and Cloud Scheduler)")
        }
        (T::Cloudrun, F::ScalingPace) => Unsupported("Cloud Run's autoscaler has no pace settings"),
        (T::Cloudrun, F::Gpus) => Unsupported(
            "berth renders no Cloud Run GPU yet (one NVIDIA L4 per instance, `run.googleapis.com/accelerator`)",
        ),
        (T::Cloudrun, F::Devices | F::Placement) => {
            Unsupported("Cloud Run instances get no host devices and Google places them")
        }
        (T::Cloudrun, F::ConfigFiles) => Unsupported(
            "Cloud Run mounts only Secret Manager secrets and Cloud Storage as files: bake the file into the image",
        ),
        (T::Cloudrun, _) => Native,
    }
}

/// How `target` (with the spec's settings) carries `feature`.
pub fn support(target: Target, targets: &Targets, feature: Feature) -> Support {
    if feature.on_edge() { edge_support(front(target, targets), feature) } else { platform_support(target, feature) }
}

/// One use of a feature by a plan, and where: `route /api/admin`, `service api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub feature: Feature,
    pub at: String,
}

/// Every feature the plan uses. Destructures the plan's types without `..`
/// so a new field is a compile error here until it is classified.
pub fn uses(plan: &Plan) -> Vec<Use> {
    let mut out = Vec::new();
    let mut push = |feature: Feature, at: String| {
        if !out.iter().any(|u: &Use| u.feature == feature && u.at == at) {
            out.push(Use { feature, at });
        }
    };
    if let Some(edge) = &plan.edge {
        edge_uses(edge, &mut push);
    }
    for s in &plan.services {
        service_uses(s, &mut push);
    }
    for d in &plan.dependencies {
        push(Feature::Dependencies, format!("dependency `{}`", d.name));
        if d.pooler.is_some() {
            push(Feature::Pooler, format!("dependency `{}`", d.name));
        }
    }
    if plan.tracing.is_some() {
        push(Feature::Tracing, "`monitoring.tracing`".to_owned());
    }
    for b in &plan.backups {
        match &b.subject {
            berth_plan::BackupSubject::Volume { service, volume } => {
                push(Feature::VolumeBackups, format!("volume `{volume}` of service `{service}`"));
            }
            _ => push(Feature::Backups, format!("dependency `{}`", b.name)),
        }
    }
    out
}

fn edge_uses(edge: &EdgePlan, push: &mut impl FnMut(Feature, String)) {
    use SecurityFeature as S;
    let EdgePlan {
        hosts: _,
        listen: _,
        tls,
        redirect_https,
        headers,
        headers_from_spec,
        rate_limits,
        routes,
        auth: _,
        gzip,
        body_limit: _,
        timeouts: _,
        trusted_proxies,
    } = edge;
    if let Some(tls) = tls {
        // TLS 1.2 is the floor of every front berth renders; 1.3 is a choice.
        if tls.min_version == TlsVersion::V1_3 {
            push(Feature::Security(S::TlsMinVersion), "`edge.tls.min_version: \"1.3\"`".to_owned());
        }
        if *redirect_https {
            push(Feature::RedirectHttps, "`edge.tls`".to_owned());
        }
    }
    match (headers.is_empty(), headers_from_spec) {
        (true, _) => {}
        (false, true) => push(Feature::Security(S::Headers), "`edge.headers`".to_owned()),
        (false, false) => push(Feature::DefaultHeaders, "the edge".to_owned()),
    }
    if !trusted_proxies.is_empty() {
        push(Feature::Security(S::TrustedProxies), "`edge.trusted_proxies`".to_owned());
    }
    if *gzip {
        push(Feature::Gzip, "`edge.gzip`".to_owned());
    }
    for route in routes {
        let RoutePlan {
            path,
            host,
            service: _,
            port: _,
            split,
            fallback,
            websocket,
            sticky,
            strip_prefix,
            timeout: _,
            body_limit: _,
            body_limit_from_spec,
            allow,
            rate_limit,
            auth,
        } = route;
        let at = || format!("route `{path}`");
        // Every route has a timeout and a body limit (defaults included).
        push(Feature::RouteTimeout, at());
        push(if *body_limit_from_spec { Feature::Security(S::BodyLimit) } else { Feature::DefaultBodyLimit }, at());
        if host.is_some() {
            push(Feature::Security(S::HostRouting), at());
        }
        if fallback.is_some() {
            push(Feature::Fallback, at());
        }
        if !split.is_empty() {
            push(Feature::TrafficSplit, at());
        }
        if *websocket {
            push(Feature::WebSocket, at());
        }
        match sticky {
            Some(berth_spec::Sticky::ClientIp) => push(Feature::StickySessions, at()),
            Some(berth_spec::Sticky::Cookie) => push(Feature::StickyCookie, at()),
            None => {}
        }
        if *strip_prefix {
            push(Feature::StripPrefix, at());
        }
        if !allow.is_empty() {
            push(Feature::Security(S::Allowlist), at());
        }
        if let Some(zone) = rate_limit {
            let by = rate_limits.iter().find(|z| &z.name == zone).map_or(RateKey::ClientIp, |z| z.by);
            let feature = match by {
                RateKey::ClientIp => S::RateLimit,
                RateKey::ApiKey => S::RateLimitByKey,
            };
            push(Feature::Security(feature), at());
        }
        if auth.is_some() {
            push(Feature::Security(S::Auth), at());
        }
    }
}

fn service_uses(s: &ServicePlan, push: &mut impl FnMut(Feature, String)) {
    let ServicePlan {
        name,
        image: _,
        build: _,
        run: _,
        ports: _,
        primary_port: _,
        replicas,
        probes,
        resources,
        env: _,
        volumes,
        security: _,
        metrics: _,
        deploy,
        uses: _,
        jobs,
        devices,
        placement,
        egress,
        files,
    } = s;
    let at = || format!("service `{name}`");
    for entry in egress {
        let feature = match entry.to {
            berth_plan::EgressTo::Network(_) => SecurityFeature::Egress,
            berth_plan::EgressTo::Host(_) => SecurityFeature::EgressHosts,
        };
        push(Feature::Security(feature), format!("`{}` (service `{name}`)", entry.to.as_str()));
    }
    if probes.startup.is_some() {
        push(Feature::StartupProbe, at());
    }
    if probes.liveness.is_some() {
        push(Feature::LivenessProbe, at());
    }
    if probes.readiness.is_some() {
        push(Feature::ReadinessProbe, at());
    }
    match replicas {
        Replicas::Fixed { .. } => push(Feature::FixedReplicas, at()),
        Replicas::Autoscaled { scale_up, scale_down, .. } => {
            push(Feature::Autoscaling, at());
            if scale_up.is_some() || scale_down.is_some() {
                push(Feature::ScalingPace, at());
            }
        }
    }
    push(Feature::ServiceSizing, at());
    if !deploy.drain_timeout.0.is_zero() {
        push(Feature::Drain, at());
    }
    if volumes.iter().any(|v| v.persistent) {
        push(Feature::PersistentVolumes, at());
    }
    if resources.gpu.is_some() {
        push(Feature::Gpus, at());
    }
    if !devices.is_empty() {
        push(Feature::Devices, at());
    }
    if placement.is_some() {
        push(Feature::Placement, at());
    }
    for f in files {
        push(Feature::ConfigFiles, format!("`{}` (service `{name}`)", f.path));
    }
    for job in jobs {
        let feature = match job.trigger {
            JobTrigger::BeforeDeploy => Feature::DeployGate,
            JobTrigger::Schedule { .. } => Feature::ScheduledJobs,
            JobTrigger::OnDemand => Feature::OnDemandJobs,
        };
        push(feature, format!("job `{}` of service `{name}`", job.name));
    }
}

/// Why Cloud Run gets no gateway: said in `R002` and in `docs/targets.md`.
pub const CLOUD_RUN_NO_GATEWAY: &str = "there is no gateway for Cloud Run: every Cloud Run service has its own public \
     `run.app` URL, and closing it to all but a gateway takes internal ingress, VPC egress from the gateway and an \
     IAM identity token on every request, while `berth edge` forwards plain HTTP to addresses it resolves; a gateway \
     would either leave the URLs open (a bypass) or not reach the services. Render `kubernetes` (GKE) with \
     `gateway: true` instead";

/// The way out named in an `R002` error besides accepting the gap.
fn alternative(target: Target) -> Option<&'static str> {
    match target {
        Target::Nginx => Some("run the stack with `berth up`, whose edge enforces it"),
        Target::Compose => Some("run berth's own edge instead of nginx (`targets.compose.gateway: true`)"),
        Target::Kubernetes | Target::Helm => {
            Some("run berth's own edge instead of an Ingress (`targets.kubernetes.gateway: true`)")
        }
        Target::Cloudformation => Some("run berth's own edge behind the ALB (`targets.cloudformation.gateway: true`)"),
        Target::Ecs => Some(
            "render the `cloudformation` target with `targets.cloudformation.gateway: true` (the same services behind \
             berth's edge behind an ALB; the `ecs` target renders task definitions only)",
        ),
        Target::Cloudrun => Some(CLOUD_RUN_NO_GATEWAY),
        _ => None,
    }
}

/// Why the spec accepts that `target` leaves `feature` unenforced, if it does.
fn accepted_reason(target: Target, targets: &Targets, feature: SecurityFeature) -> Option<String> {
    let accept = match target {
        Target::Compose => targets.compose.as_ref().map(|t| &t.accept_unenforced),
        Target::Kubernetes | Target::Helm => targets.kubernetes.as_ref().map(|t| &t.accept_unenforced),
        Target::Ecs => targets.ecs.as_ref().map(|t| &t.accept_unenforced),
        Target::Cloudformation => targets.cloudformation.as_ref().map(|t| &t.accept_unenforced),
        Target::Cloudrun => targets.cloudrun.as_ref().map(|t| &t.accept_unenforced),
        Target::Nginx => targets.nginx.as_ref().map(|t| &t.accept_unenforced),
        Target::Systemd => targets.systemd.as_ref().map(|t| &t.accept_unenforced),
        _ => None,
    };
    accept.and_then(|a| a.get(&feature)).cloned()
}

/// The spec path of a target's settings, for messages.
fn settings_key(target: Target) -> &'static str {
    match target {
        Target::Helm => "kubernetes",
        t => t.name(),
    }
}

/// Diagnostics for rendering `plan` to `target`: errors for security
/// features it cannot enforce, warnings for the rest it cannot carry or
/// approximates. One diagnostic per feature, listing every place.
pub fn judge(plan: &Plan, target: Target) -> Vec<berth_diagnostics::Diagnostic> {
    use berth_diagnostics::Diagnostic;
    let mut grouped: Vec<(Feature, Vec<String>)> = Vec::new();
    for u in uses(plan) {
        match grouped.iter_mut().find(|(f, _)| *f == u.feature) {
            Some((_, at)) => at.push(u.at),
            None => grouped.push((u.feature, vec![u.at])),
        }
    }
    let front = front(target, &plan.targets);
    let by = if front == Front::NotServing { String::new() } else { format!(" (in front: {})", front.name()) };
    let mut out = Vec::new();
    for (feature, at) in grouped {
        let places = at.join(", ");
        let by = if feature.on_edge() { by.as_str() } else { "" };
        match support(target, &plan.targets, feature) {
            Support::Native | Support::NotApplicable => {}
            Support::Approximated(how) => out.push(
                Diagnostic::warning(
                    crate::APPROXIMATED,
                    format!("the {target} target approximates {} for {places}{by}", feature.describe()),
                )
                .with_help(how),
            ),
            Support::Unsupported(why) => match feature {
                Feature::Security(s) if accepted_reason(target, &plan.targets, s).is_none() => {
                    let gateway = alternative(target)
                        .filter(|_| feature.on_edge())
                        .map_or_else(String::new, |g| format!("{g}, or "));
                    out.push(
                        Diagnostic::error(
                            crate::UNENFORCED,
                            format!(
                                "the {target} target cannot enforce {} on {places}{by}: {why}",
                                feature.describe()
                            ),
                        )
                        .with_help(format!(
                            "{gateway}accept the gap with a reason: `targets.{}.accept_unenforced: {{ {}: \"who enforces it instead\" }}`",
                            settings_key(target),
                            s.name()
                        )),
                    );
                }
                Feature::Security(s) => {
                    let reason = accepted_reason(target, &plan.targets, s).unwrap_or_default();
                    out.push(Diagnostic::new(
                        crate::UNENFORCED,
                        berth_diagnostics::Severity::Info,
                        format!(
                            "the {target} target does not enforce {} on {places}{by}; accepted: {reason}",
                            feature.describe()
                        ),
                    ));
                }
                _ => out.push(
                    Diagnostic::warning(
                        crate::UNSUPPORTED,
                        format!("the {target} target cannot express {} for {places}{by}", feature.describe()),
                    )
                    .with_help(why),
                ),
            },
        }
    }
    out
}

fn cell(s: Support) -> String {
    match s {
        Support::Native => "yes".to_owned(),
        Support::Approximated(how) => format!("approx.: {how}"),
        Support::Unsupported(why) => format!("**no**: {why}"),
        Support::NotApplicable => "-".to_owned(),
    }
}

/// `docs/targets.md`: the feature × target matrix, generated from the table.
pub fn matrix_markdown() -> String {
    let mut md = String::from(
        "# What each target carries\n\n\
         <!-- Generated from crates/berth-render/src/support.rs. Do not edit by hand. -->\n\n\
         berth renders one spec to many targets. A target carries each feature natively, approximates it \
         (said how, as a warning `R003` when a spec uses it), or cannot carry it. A **security** feature a \
         target cannot enforce is an error (`R002`): nothing is written unless that target runs berth's own \
         edge as its gateway (Kubernetes, compose and CloudFormation: `gateway: true`) or the spec accepts the gap for that \
         target, saying who enforces it instead (`targets.<target>.accept_unenforced: { feature: reason }`). Any other feature a target cannot carry \
         is a warning (`R001`).\n\n\
         ## Edge features, by the proxy in front\n\n\
         Which proxy a target puts in front: nginx (the nginx target and compose's nginx service), an \
         Ingress (Kubernetes and Helm; ingress-nginx with `ingress_class: nginx`), the ALB (CloudFormation), \
         Cloud Run's own, none (ECS), or berth's own edge: `berth up`'s, and `berth edge` as the \
         gateway of Kubernetes, compose and CloudFormation (`targets.kubernetes.gateway: true`, \
         `targets.compose.gateway: true`, `targets.cloudformation.gateway: true`: an ECS service behind the ALB). \
         Cloud Run has none: ",
    );
    md.push_str(CLOUD_RUN_NO_GATEWAY);
    md.push_str(".\n\n");
    let fronts = Front::ALL;
    md.push_str("| feature | `accept_unenforced` key |");
    for f in fronts {
        md.push_str(&format!(" {} |", f.name()));
    }
    md.push_str("\n|---|---|");
    for _ in fronts {
        md.push_str("---|");
    }
    md.push('\n');
    let shown = |f: &&Feature| !matches!(f, Feature::DefaultHeaders | Feature::DefaultBodyLimit);
    for feature in Feature::ALL.iter().filter(|f| f.on_edge()).filter(shown) {
        let key = match feature {
            Feature::Security(s) => format!("`{}`", s.name()),
            _ => "-".to_owned(),
        };
        md.push_str(&format!("| {} | {key} |", feature.describe()));
        for front in fronts {
            md.push_str(&format!(" {} |", cell(edge_support(*front, *feature))));
        }
        md.push('\n');
    }
    md.push_str(
        "\nberth's default headers and body limit (when the spec sets none) follow the same columns, \
         but a front without them gets a warning, not an error.\n",
    );
    md.push_str("\n## Platform features, by target\n\n| feature |");
    let platform_targets: Vec<Target> = Target::ALL
        .iter()
        .copied()
        .filter(|t| Feature::ALL.iter().any(|f| platform_support(*t, *f) != Support::NotApplicable))
        .collect();
    for t in &platform_targets {
        md.push_str(&format!(" {t} |"));
    }
    md.push_str("\n|---|");
    for _ in &platform_targets {
        md.push_str("---|");
    }
    md.push('\n');
    for feature in Feature::ALL.iter().filter(|f| !f.on_edge()) {
        md.push_str(&format!("| {} |", feature.describe()));
        for t in &platform_targets {
            md.push_str(&format!(" {} |", cell(platform_support(*t, *feature))));
        }
        md.push('\n');
    }
    md.push_str("\n## Diagnostic codes\n\n| code | severity | meaning |\n|---|---|---|\n");
    for (code, severity, meaning) in crate::CODES {
        md.push_str(&format!("| `{}` {} | {severity} | {meaning} |\n", code.id, code.name));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_security_feature_is_a_feature() {
        for s in SecurityFeature::ALL {
            assert!(Feature::ALL.contains(&Feature::Security(*s)), "{s:?}");
        }
    }

    #[test]
    fn berth_edge_carries_every_edge_feature() {
        for f in Feature::ALL.iter().filter(|f| f.on_edge()) {
            assert_eq!(edge_support(Front::Berth, *f), Support::Native, "{f}");
        }
    }

    #[test]
    fn no_target_but_berth_claims_to_check_credentials() {
        for front in Front::ALL.iter().filter(|f| **f != Front::Berth) {
            assert!(matches!(edge_support(*front, Feature::Security(SecurityFeature::Auth)), Support::Unsupported(_)));
        }
    }
}
