//! A service: ServiceAccount, ConfigMap, Deployment (StatefulSet when it has
//! persistent volumes, so each replica gets its own), Service,
//! PodDisruptionBudget and HorizontalPodAutoscaler.

use std::collections::BTreeMap;

use berth_plan::{EnvValue, Plan, ProbeCheck, ProbePlan, Replicas, ServicePlan};
use berth_spec::model::units::Duration;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec, MetricTarget,
    PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapEnvSource, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvFromSource, EnvVar, EnvVarSource, ExecAction, HTTPGetAction, Lifecycle, LifecycleHandler, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec, SleepAction,
    TCPSocketAction, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Manifest;
use super::meta::{labels, object_meta, selector, selector_labels};
use crate::Output;

/// The pod volume that holds a service's configuration files.
const FILES_VOLUME: &str = "berth-files";
/// Pod template annotation: SHA-256 of the service's files, so that a
/// changed file is a new template and rolls the workload.
pub(crate) const FILES_DIGEST: &str = "berth.dev/files-sha256";

/// The Kubernetes Secret and key holding a declared secret.
pub fn secret_ref(plan: &Plan, secret: &str) -> SecretKeySelector {
    let (name, key) = plan
        .secrets
        .iter()
        .find(|s| s.name == secret)
        .map_or_else(|| (plan.project.clone(), secret.to_owned()), |s| s.kubernetes.clone());
    SecretKeySelector { name, key, optional: None }
}

pub fn secret_env(plan: &Plan, var: &str, secret: &str) -> EnvVar {
    EnvVar {
        name: var.to_owned(),
        value_from: Some(EnvVarSource { secret_key_ref: Some(secret_ref(plan, secret)), ..EnvVarSource::default() }),
        ..EnvVar::default()
    }
}

pub fn plain_env(var: &str, value: &str) -> EnvVar {
    EnvVar { name: var.to_owned(), value: Some(value.to_owned()), ..EnvVar::default() }
}

/// `d` in whole seconds for Kubernetes' 32-bit fields: rounded down (checks
/// come sooner, never later) and at least `min`. [`fidelity`] names a
/// duration this changes.
fn seconds(d: Duration, min: u64) -> i32 {
    int32(d.as_secs().max(min))
}

/// A count for Kubernetes' 32-bit fields. berth-spec bounds every count
/// far below `i32::MAX` (replicas and thresholds at 10000, durations at ten
/// years); [`fidelity`] reports the saturation should one get through.
fn int32(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

pub fn probe(p: &ProbePlan) -> Probe {
    let mut probe = Probe {
        period_seconds: Some(seconds(p.interval, 1)),
        timeout_seconds: Some(seconds(p.timeout, 1)),
        failure_threshold: Some(int32(p.failure_threshold)),
        success_threshold: Some(int32(p.success_threshold)),
        initial_delay_seconds: (!p.initial_delay.0.is_zero()).then(|| seconds(p.initial_delay, 0)),
        ..Probe::default()
    };
    match &p.check {
        ProbeCheck::Http { path, port } => {
            probe.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port: IntOrString::String(port.name.clone()),
                ..HTTPGetAction::default()
            });
        }
        ProbeCheck::Tcp { port } => {
            probe.tcp_socket =
                Some(TCPSocketAction { port: IntOrString::String(port.name.clone()), ..TCPSocketAction::default() })
        }
        ProbeCheck::Exec { command } => probe.exec = Some(ExecAction { command: Some(command.clone()) }),
    }
    probe
}

/// Names every number of `s` that its Kubernetes objects cannot carry
/// exactly: probe times that are not whole seconds (or under the 1 s
/// Kubernetes' period and timeout need), a utilization target with a
/// fraction, a custom metric target finer than thousandths, and any count
/// past a 32-bit field.
fn fidelity(s: &ServicePlan, out: &mut Output) {
    let name = &s.name;
    let mut unsupported = |feature: String, help: &str| out.unsupported(crate::Target::Kubernetes, feature, help);
    let checks = [("liveness", &s.probes.liveness), ("readiness", &s.probes.readiness), ("startup", &s.probes.startup)];
    for (kind, p) in checks {
        let Some(p) = p else { continue };
        for (field, d, min) in
            [("interval", p.interval, 1), ("timeout", p.timeout, 1), ("initial delay", p.initial_delay, 0)]
        {
            let rendered = seconds(d, min);
            if u64::try_from(rendered).ok() != Some(d.as_secs()) || d.0.subsec_nanos() != 0 {
                unsupported(
                    format!(
                        "the {kind} check's {field} {d} of `{name}` exactly (Kubernetes counts probe times in whole \
                         seconds, at least {min}; rendered {rendered} s)"
                    ),
                    "keep probe times in whole seconds",
                );
            }
        }
        for (field, n) in [("failure_threshold", p.failure_threshold), ("success_threshold", p.success_threshold)] {
            if i32::try_from(n).is_err() {
                unsupported(
                    format!(
                        "the {kind} check's {field} {n} of `{name}` (Kubernetes' field is 32-bit; rendered {})",
                        i32::MAX
                    ),
                    "count fewer checks in a row",
                );
            }
        }
    }
    let counts: Vec<(&str, u32)> = match &s.replicas {
        Replicas::Fixed { count } => vec![("replicas", *count)],
        Replicas::Autoscaled { min, max, .. } => vec![("autoscale.min", *min), ("autoscale.max", *max)],
    };
    for (field, n) in counts {
        if i32::try_from(n).is_err() {
            unsupported(
                format!("the {field} {n} of `{name}` (Kubernetes' field is 32-bit; rendered {})", i32::MAX),
                "run fewer replicas",
            );
        }
    }
    if let Replicas::Autoscaled { cpu, memory, metric, .. } = &s.replicas {
        for (resource, target) in [("CPU", cpu), ("memory", memory)] {
            if let Some(t) = target
                && t.0.fract() != 0.0
            {
                unsupported(
                    format!(
                        "the {resource} target {}% of `{name}` exactly (Kubernetes' averageUtilization is whole \
                         percent; rendered {}%)",
                        t.0,
                        utilization(t.0)
                    ),
                    "write a whole percentage",
                );
            }
        }
        let milli = metric.as_ref().map_or(0.0, |m| m.target * 1000.0);
        if let Some(m) = metric
            && (milli - milli.round()).abs() > 1e-6 * milli.abs().max(1.0)
        {
            unsupported(
                format!(
                    "the metric target {} of `{name}` exactly (rendered as the quantity {}, in thousandths)",
                    m.target,
                    format_quantity(m.target)
                ),
                "write the target with at most three decimals",
            );
        }
    }
}

/// A utilization target as Kubernetes' whole percent, rounded to the
/// nearest. A [`Percent`](berth_spec::model::units::Percent) is 0 to 100, so
/// the cast is exact.
fn utilization(percent: f64) -> i32 {
    percent.round().clamp(0.0, 100.0) as i32
}

pub fn quantities(
    cpu: Option<berth_spec::model::units::Cpu>,
    memory: Option<berth_spec::model::units::ByteSize>,
) -> Option<BTreeMap<String, Quantity>> {
    let mut q = BTreeMap::new();
    if let Some(cpu) = cpu {
        q.insert("cpu".to_owned(), Quantity(cpu.to_string()));
    }
    if let Some(memory) = memory {
        q.insert("memory".to_owned(), Quantity(memory.to_string()));
    }
    (!q.is_empty()).then_some(q)
}

/// One direction of an HPA's `behavior`: with both limits, the larger
/// change wins (`selectPolicy: Max`, Kubernetes' default).
fn rules(pace: &berth_spec::ScalingPace) -> HPAScalingRules {
    let period = pace.per.map_or(60, |d| d.ceil_secs());
    let mut policies = Vec::new();
    for (kind, value) in [("Pods", pace.max_pods), ("Percent", pace.max_percent)] {
        if let Some(value) = value {
            policies.push(HPAScalingPolicy {
                type_: kind.to_owned(),
                value: int32(value),
                period_seconds: int32(period),
            });
        }
    }
    HPAScalingRules {
        stabilization_window_seconds: pace.stabilization.map(|d| int32(d.ceil_secs())),
        select_policy: (!policies.is_empty()).then(|| "Max".to_owned()),
        policies: (!policies.is_empty()).then_some(policies),
        ..HPAScalingRules::default()
    }
}

fn toleration(t: &berth_spec::Toleration) -> k8s_openapi::api::core::v1::Toleration {
    use berth_spec::{TaintEffect, TolerationOperator};
    k8s_openapi::api::core::v1::Toleration {
        key: t.key.clone(),
        operator: Some(
            match t.operator {
                TolerationOperator::Equal => "Equal",
                TolerationOperator::Exists => "Exists",
            }
            .to_owned(),
        ),
        value: t.value.clone(),
        effect: t.effect.map(|e| {
            match e {
                TaintEffect::NoSchedule => "NoSchedule",
                TaintEffect::PreferNoSchedule => "PreferNoSchedule",
                TaintEffect::NoExecute => "NoExecute",
            }
            .to_owned()
        }),
        toleration_seconds: None,
    }
}

/// The limits plus the service's GPUs, an extended resource Kubernetes
/// takes in limits only (the request equals it).
pub fn with_gpu(limits: Option<BTreeMap<String, Quantity>>, s: &ServicePlan) -> Option<BTreeMap<String, Quantity>> {
    let Some(gpu) = s.resources.gpu else { return limits };
    let mut limits = limits.unwrap_or_default();
    limits.insert(gpu.vendor.resource().to_owned(), Quantity(gpu.count.to_string()));
    Some(limits)
}

pub fn container_security(read_only_root: bool, run_as_user: u32, drop: &[String], add: &[String]) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(read_only_root),
        run_as_non_root: Some(run_as_user != 0),
        run_as_user: Some(i64::from(run_as_user)),
        capabilities: Some(Capabilities { drop: Some(drop.to_vec()), add: (!add.is_empty()).then(|| add.to_vec()) }),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), ..SeccompProfile::default() }),
        ..SecurityContext::default()
    }
}

pub fn pod_security(run_as_user: u32) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(run_as_user != 0),
        run_as_user: Some(i64::from(run_as_user)),
        run_as_group: Some(i64::from(run_as_user)),
        fs_group: Some(i64::from(run_as_user)),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), ..SeccompProfile::default() }),
        ..PodSecurityContext::default()
    }
}

fn env(plan: &Plan, s: &ServicePlan) -> Vec<EnvVar> {
    let mut vars = Vec::new();
    for var in &s.env {
        match &var.value {
            EnvValue::Literal { .. } => {}
            EnvValue::Secret { secret } => vars.push(secret_env(plan, &var.name, secret)),
            EnvValue::Dependency { url, password_secret, .. } => match password_secret {
                // `$(VAR)` expands an earlier variable: the password stays in its Secret.
                Some(secret) => {
                    let password_var = format!("{}_PASSWORD", var.name);
                    vars.push(secret_env(plan, &password_var, secret));
                    vars.push(plain_env(&var.name, &url_with_password(url, &password_var)));
                }
                None => vars.push(plain_env(&var.name, url)),
            },
        }
    }
    vars
}

pub(crate) fn service(
    plan: &Plan,
    s: &ServicePlan,
    m: &mut Manifest,
    gates: &mut Vec<(String, Manifest)>,
    out: &mut Output,
) {
    let name = s.name.as_str();
    let meta = || object_meta(plan, name, name);
    let Some(image) = s.image.clone() else {
        out.unsupported(
            crate::Target::Kubernetes,
            format!("service `{name}` without an `image`"),
            "Kubernetes runs images; add `image:` to the service",
        );
        return;
    };
    fidelity(s, out);
    m.push(&ServiceAccount {
        metadata: meta(),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    });
    let literals: BTreeMap<String, String> = s
        .env
        .iter()
        .filter_map(|v| match &v.value {
            EnvValue::Literal { value } => Some((v.name.clone(), value.clone())),
            _ => None,
        })
        .chain(s.primary_port.as_ref().map(|p| ("PORT".to_owned(), p.port.to_string())))
        .collect();
    let has_config = !literals.is_empty();
    if has_config {
        m.push(&ConfigMap {
            metadata: object_meta(plan, &format!("{name}-env"), name),
            data: Some(literals),
            ..ConfigMap::default()
        });
    }
    let sec = &s.security;
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let mut claims = Vec::new();
    for v in &s.volumes {
        mounts.push(VolumeMount {
            name: v.name.clone(),
            mount_path: v.path.clone(),
            read_only: v.read_only.then_some(true),
            ..VolumeMount::default()
        });
        if v.persistent {
            claims.push(claim(plan, &v.name, name, v.size));
        } else {
            volumes.push(Volume {
                name: v.name.clone(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            });
        }
    }
    // Configuration files: one ConfigMap, each key mounted at its path.
    // A subPath mount is not updated in place; the digest on the pod
    // template rolls the workload instead, so every pod reads one version.
    let digest = s.files_digest();
    if digest.is_some() {
        m.push(&ConfigMap {
            metadata: object_meta(plan, &format!("{name}-files"), name),
            data: Some(s.files.iter().filter_map(|f| Some((f.key.clone(), f.content.clone()?))).collect()),
            ..ConfigMap::default()
        });
        volumes.push(Volume {
            name: FILES_VOLUME.to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: format!("{name}-files"),
                default_mode: Some(0o444),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        for f in &s.files {
            mounts.push(VolumeMount {
                name: FILES_VOLUME.to_owned(),
                mount_path: f.path.clone(),
                sub_path: Some(f.key.clone()),
                read_only: Some(true),
                ..VolumeMount::default()
            });
        }
    }
    let container = Container {
        name: name.to_owned(),
        image: Some(image),
        ports: Some(
            s.ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.port),
                    protocol: Some("TCP".to_owned()),
                    ..ContainerPort::default()
                })
                .collect(),
        ),
        env: Some(env(plan, s)).filter(|e| !e.is_empty()),
        env_from: has_config.then(|| {
            vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource { name: format!("{name}-env"), optional: None }),
                ..EnvFromSource::default()
            }]
        }),
        liveness_probe: s.probes.liveness.as_ref().map(probe),
        readiness_probe: s.probes.readiness.as_ref().map(probe),
        startup_probe: s.probes.startup.as_ref().map(probe),
        resources: Some(ResourceRequirements {
            requests: quantities(s.resources.requests.cpu, s.resources.requests.memory),
            limits: with_gpu(quantities(s.resources.limits.cpu, s.resources.limits.memory), s),
            ..ResourceRequirements::default()
        }),
        security_context: Some(container_security(
            sec.read_only_root,
            sec.run_as_user,
            &sec.drop_capabilities,
            &sec.add_capabilities,
        )),
        volume_mounts: Some(mounts).filter(|m| !m.is_empty()),
        // The drain: the pod leaves its Service's endpoints as it starts
        // terminating, but proxies learn that late; it keeps serving for
        // `drain_timeout` before it gets SIGTERM.
        lifecycle: (!s.deploy.drain_timeout.0.is_zero()).then(|| Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: i64::try_from(s.deploy.drain_timeout.ceil_secs()).unwrap_or(i64::MAX),
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        ..Container::default()
    };
    let pull_secrets = plan.targets.kubernetes.as_ref().map(|k| k.image_pull_secrets.clone()).filter(|p| !p.is_empty());
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(plan, name)),
            annotations: digest.map(|d| BTreeMap::from([(FILES_DIGEST.to_owned(), d)])),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(name.to_owned()),
            automount_service_account_token: Some(false),
            security_context: Some(pod_security(sec.run_as_user)),
            // The same stop budget as every target: the drain (the preStop
            // sleep, which this period includes), then the stop timeout
            // (default 10 s), in whole seconds rounded up.
            termination_grace_period_seconds: Some({
                let stop = s.run.as_ref().map_or(10_000, |r| r.stop_timeout.as_millis());
                i64::try_from((s.deploy.drain_timeout.as_millis() + stop).div_ceil(1000)).unwrap_or(i64::MAX)
            }),
            containers: vec![container],
            node_selector: s.placement.as_ref().map(|p| p.node_selector.clone()).filter(|n| !n.is_empty()),
            tolerations: s
                .placement
                .as_ref()
                .map(|p| p.tolerations.iter().map(toleration).collect::<Vec<_>>())
                .filter(|t| !t.is_empty()),
            volumes: Some(volumes).filter(|v| !v.is_empty()),
            image_pull_secrets: pull_secrets
                .map(|p| p.into_iter().map(|name| k8s_openapi::api::core::v1::LocalObjectReference { name }).collect()),
            ..PodSpec::default()
        }),
    };
    super::job::render(plan, s, &template, m, gates, out);
    let replicas = match s.replicas {
        // The autoscaler owns the count; a fixed field would fight it on every apply.
        Replicas::Autoscaled { .. } => None,
        Replicas::Fixed { count } => Some(int32(count)),
    };
    if claims.is_empty() {
        m.push(&Deployment {
            metadata: meta(),
            spec: Some(DeploymentSpec {
                replicas,
                selector: selector(plan, name),
                template,
                revision_history_limit: Some(5),
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        });
    } else {
        m.push(&StatefulSet {
            metadata: meta(),
            spec: Some(StatefulSetSpec {
                replicas,
                selector: selector(plan, name),
                service_name: Some(name.to_owned()),
                template,
                volume_claim_templates: Some(claims),
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        });
    }
    if !s.ports.is_empty() {
        m.push(&Service {
            metadata: meta(),
            spec: Some(ServiceSpec {
                selector: Some(selector_labels(plan, name)),
                ports: Some(
                    s.ports
                        .iter()
                        .map(|p| ServicePort {
                            name: Some(p.name.clone()),
                            port: i32::from(p.port),
                            target_port: Some(IntOrString::String(p.name.clone())),
                            protocol: Some("TCP".to_owned()),
                            ..ServicePort::default()
                        })
                        .collect(),
                ),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        });
    }
    let min = match s.replicas {
        Replicas::Fixed { count } => count,
        Replicas::Autoscaled { min, .. } => min,
    };
    if min >= 2 {
        m.push(&PodDisruptionBudget {
            metadata: meta(),
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable: Some(IntOrString::Int(1)),
                selector: Some(selector(plan, name)),
                ..PodDisruptionBudgetSpec::default()
            }),
            ..PodDisruptionBudget::default()
        });
    }
    if let Replicas::Autoscaled { min, max, cpu, memory, metric, scale_up, scale_down } = &s.replicas {
        let mut metrics = Vec::new();
        for (resource, target) in [("cpu", cpu), ("memory", memory)] {
            if let Some(t) = target {
                metrics.push(MetricSpec {
                    type_: "Resource".to_owned(),
                    resource: Some(ResourceMetricSource {
                        name: resource.to_owned(),
                        target: MetricTarget {
                            type_: "Utilization".to_owned(),
                            average_utilization: Some(utilization(t.0)),
                            ..MetricTarget::default()
                        },
                    }),
                    ..MetricSpec::default()
                });
            }
        }
        if let Some(metric) = metric {
            metrics.push(MetricSpec {
                type_: "Pods".to_owned(),
                pods: Some(PodsMetricSource {
                    metric: MetricIdentifier { name: metric.name.clone(), selector: None },
                    target: MetricTarget {
                        type_: "AverageValue".to_owned(),
                        average_value: Some(Quantity(format_quantity(metric.target))),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            });
        }
        m.push(&HorizontalPodAutoscaler {
            metadata: meta(),
            spec: Some(HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".to_owned()),
                    kind: if claims_kind_statefulset(s) { "StatefulSet" } else { "Deployment" }.to_owned(),
                    name: name.to_owned(),
                },
                min_replicas: Some(int32(*min)),
                max_replicas: int32(*max),
                metrics: Some(metrics),
                behavior: (scale_up.is_some() || scale_down.is_some()).then(|| HorizontalPodAutoscalerBehavior {
                    scale_up: scale_up.as_ref().map(rules),
                    scale_down: scale_down.as_ref().map(rules),
                }),
            }),
            ..HorizontalPodAutoscaler::default()
        });
    }
}

/// A ReadWriteOnce claim template: each StatefulSet replica gets its own volume.
pub fn claim(
    plan: &Plan,
    volume: &str,
    component: &str,
    size: berth_spec::model::units::ByteSize,
) -> PersistentVolumeClaim {
    let mut requests = BTreeMap::new();
    requests.insert("storage".to_owned(), Quantity(size.to_string()));
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(volume.to_owned()),
            labels: Some(labels(plan, component)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: plan.targets.kubernetes.as_ref().and_then(|k| k.storage_class.clone()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(requests),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// Requests and limits from millicores and bytes, for the containers berth adds itself.
pub fn fixed_resources(request: (u64, u64), limit: (u64, u64)) -> ResourceRequirements {
    use berth_spec::model::units::{ByteSize, Cpu};
    ResourceRequirements {
        requests: quantities(Some(Cpu(request.0)), Some(ByteSize(request.1))),
        limits: quantities(Some(Cpu(limit.0)), Some(ByteSize(limit.1))),
        ..ResourceRequirements::default()
    }
}

/// `postgres://user@host/db` → `postgres://user:$(VAR)@host/db`;
/// `redis://host:6379/0` → `redis://:$(VAR)@host:6379/0`.
pub fn url_with_password(url: &str, var: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((user, host)) => format!("{scheme}://{user}:$({var})@{host}"),
        None => format!("{scheme}://:$({var})@{rest}"),
    }
}

fn claims_kind_statefulset(s: &ServicePlan) -> bool {
    s.volumes.iter().any(|v| v.persistent)
}

/// A Kubernetes quantity for a plain number: integers as is, else
/// milli-units (rounded to the nearest thousandth; [`fidelity`] names a
/// target this changes). Written from the float itself, so no integer
/// type's range cuts a large target.
fn format_quantity(value: f64) -> String {
    if value.fract() == 0.0 { format!("{value:.0}") } else { format!("{:.0}m", (value * 1000.0).round()) }
}

#[cfg(test)]
mod tests {
    use super::{format_quantity, int32, seconds, utilization};
    use berth_spec::model::units::Duration;

    #[test]
    fn counts_saturate_instead_of_wrapping_or_defaulting() {
        // Once `unwrap_or(1)` and `unwrap_or(3)`: a count past 32 bits became
        // one replica, or three failures. berth-spec refuses such counts;
        // should one get through it saturates, and `fidelity` names it.
        assert_eq!(int32(u32::MAX), i32::MAX);
        assert_eq!(int32(10_000_u32), 10_000);
        assert_eq!(int32(u64::MAX), i32::MAX);
    }

    #[test]
    fn probe_times_are_whole_seconds_at_least_the_minimum() {
        assert_eq!(seconds(Duration(std::time::Duration::from_millis(1500)), 1), 1);
        assert_eq!(seconds(Duration(std::time::Duration::from_millis(500)), 1), 1);
        assert_eq!(seconds(Duration::secs(0), 0), 0);
        assert_eq!(seconds(Duration::MAX, 1), 315_360_000, "ten years fit Kubernetes' 32-bit seconds");
    }

    #[test]
    fn quantities_are_written_from_the_float() {
        // Once `value as i64`: a target past i64 became i64::MAX.
        assert_eq!(format_quantity(150.0), "150");
        assert_eq!(format_quantity(1e20), "100000000000000000000");
        assert_eq!(format_quantity(0.5), "500m");
        assert_eq!(format_quantity(2.25), "2250m");
        assert_eq!(utilization(72.5), 73);
        assert_eq!(utilization(70.0), 70);
    }
}
