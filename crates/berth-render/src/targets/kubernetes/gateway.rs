//! `targets.kubernetes.gateway: true`: berth's own edge (`berth edge`) in
//! front of the services instead of an Ingress, so every route feature is
//! enforced as under `berth up`. A LoadBalancer Service with
//! `externalTrafficPolicy: Local` keeps the clients' addresses (allowlists
//! and rate limits judge them, not a node's); the edge reads the spec from
//! the `<project>-spec` ConfigMap, secrets from their Secrets, and serves
//! the certificate of the `<project>-tls` Secret.

use std::collections::BTreeMap;

use berth_plan::{EdgePlan, Plan};
use berth_spec::TlsMode;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction, HTTPHeader, PodSpec, PodTemplateSpec, Probe,
    SecretVolumeSource, Service, ServicePort, ServiceSpec, Sysctl, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Manifest;
use super::backup::{SPEC_PATH, berth_image, spec_volume};
use super::meta::{labels, object_meta, selector, selector_labels};
use super::workload::{container_security, fixed_resources, pod_security, secret_env};
use crate::Output;
use crate::targets::Target;

/// The component name of the gateway's objects and pods.
pub const COMPONENT: &str = "edge";

const TLS_DIR: &str = "/etc/berth-tls";

/// Whether the spec asks for the gateway.
pub fn enabled(plan: &Plan) -> bool {
    plan.targets.kubernetes.as_ref().is_some_and(|k| k.gateway)
}

pub(crate) fn render(plan: &Plan, edge: &EdgePlan, m: &mut Manifest, out: &mut Output) {
    let name = format!("{}-{COMPONENT}", plan.project);
    let mut args = vec!["edge".to_owned(), SPEC_PATH.to_owned()];
    if let Some(env) = &plan.environment {
        args.extend(["--env".to_owned(), env.clone()]);
    }
    // The probes reach the status page from the node, with a loopback host name.
    args.extend(["--admin".to_owned(), format!("0.0.0.0:{}", edge.listen.admin)]);
    let (spec_vol, spec_mount) = spec_volume(plan);
    let mut volumes = vec![spec_vol];
    let mut mounts = vec![spec_mount];
    if let Some(tls) = &edge.tls {
        match tls.mode {
            TlsMode::SelfSigned => {}
            TlsMode::Files | TlsMode::Acme => {
                let secret = format!("{}-tls", plan.project);
                args.extend([
                    "--tls-cert".to_owned(),
                    format!("{TLS_DIR}/tls.crt"),
                    "--tls-key".to_owned(),
                    format!("{TLS_DIR}/tls.key"),
                ]);
                volumes.push(Volume {
                    name: "tls".to_owned(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(secret.clone()),
                        ..SecretVolumeSource::default()
                    }),
                    ..Volume::default()
                });
                mounts.push(VolumeMount {
                    name: "tls".to_owned(),
                    mount_path: TLS_DIR.to_owned(),
                    read_only: Some(true),
                    ..VolumeMount::default()
                });
                if tls.mode == TlsMode::Acme {
                    out.unsupported(
                        Target::Kubernetes,
                        format!("requesting the ACME certificate of the gateway (Secret `{secret}`)"),
                        "berth renders no cert-manager Certificate (a CRD); create one that writes this Secret, and the edge serves it",
                    );
                }
            }
        }
    }
    volumes.push(Volume {
        name: "tmp".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    });
    mounts.push(VolumeMount { name: "tmp".to_owned(), mount_path: "/tmp".to_owned(), ..VolumeMount::default() });
    let mut env = Vec::new();
    for secret in plan.secrets.iter().filter(|s| s.used_by.iter().any(|u| u == "edge")) {
        if secret.file.is_some() {
            out.unsupported(
                Target::Kubernetes,
                format!("the file of secret `{}` in the gateway", secret.name),
                "the gateway reads secrets from its environment; drop `file:` so the Secret reaches it as a variable",
            );
        }
        let var = secret.env.clone().unwrap_or_else(|| berth_plan::secret_env_name(&secret.name));
        env.push(secret_env(plan, &var, &secret.name));
    }
    if edge.auth.as_ref().and_then(|a| a.jwt.as_ref()).is_some_and(|j| j.public_key.is_some()) {
        out.unsupported(
            Target::Kubernetes,
            "the JWT public key file in the gateway",
            "only berth.yaml is in the spec ConfigMap; mount the key beside it (under /etc/berth, at its path in the spec)",
        );
    }
    let mut ports = vec![ContainerPort {
        name: Some("http".to_owned()),
        container_port: i32::from(edge.listen.http),
        ..ContainerPort::default()
    }];
    if edge.tls.is_some() {
        ports.push(ContainerPort {
            name: Some("https".to_owned()),
            container_port: i32::from(edge.listen.https),
            ..ContainerPort::default()
        });
    }
    ports.push(ContainerPort {
        name: Some("admin".to_owned()),
        container_port: i32::from(edge.listen.admin),
        ..ContainerPort::default()
    });
    // Ready: the status page answers. Alive: the process accepts at all
    // (a slow status page must not restart a serving edge).
    let readiness = Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/status.json".to_owned()),
            port: IntOrString::String("admin".to_owned()),
            http_headers: Some(vec![HTTPHeader { name: "Host".to_owned(), value: "localhost".to_owned() }]),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(5),
        timeout_seconds: Some(2),
        failure_threshold: Some(2),
        ..Probe::default()
    };
    let liveness = Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String("http".to_owned()),
            ..TCPSocketAction::default()
        }),
        period_seconds: Some(10),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Probe::default()
    };
    let container = Container {
        name: COMPONENT.to_owned(),
        image: Some(berth_image()),
        args: Some(args),
        env: (!env.is_empty()).then_some(env),
        ports: Some(ports),
        readiness_probe: Some(readiness),
        liveness_probe: Some(liveness),
        volume_mounts: Some(mounts),
        resources: Some(fixed_resources((100, 64 << 20), (1000, 256 << 20))),
        security_context: Some(container_security(true, 10001, &["ALL".to_owned()], &[])),
        ..Container::default()
    };
    let mut pod_security = pod_security(10001);
    // A non-root process binds the spec's ports (80 and 443 by default);
    // this sysctl is namespaced and in Kubernetes' safe set.
    pod_security.sysctls =
        Some(vec![Sysctl { name: "net.ipv4.ip_unprivileged_port_start".to_owned(), value: "0".to_owned() }]);
    m.push(&Deployment {
        metadata: object_meta(plan, &name, COMPONENT),
        spec: Some(DeploymentSpec {
            replicas: Some(2),
            selector: selector(plan, COMPONENT),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(plan, COMPONENT)), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    // The edge drains for 25 s after SIGTERM; then it is killed.
                    termination_grace_period_seconds: Some(30),
                    security_context: Some(pod_security),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    });
    m.push(&PodDisruptionBudget {
        metadata: object_meta(plan, &name, COMPONENT),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(selector(plan, COMPONENT)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    });
    let mut service_ports = vec![ServicePort {
        name: Some("http".to_owned()),
        port: i32::from(edge.listen.http),
        target_port: Some(IntOrString::String("http".to_owned())),
        ..ServicePort::default()
    }];
    if edge.tls.is_some() {
        service_ports.push(ServicePort {
            name: Some("https".to_owned()),
            port: i32::from(edge.listen.https),
            target_port: Some(IntOrString::String("https".to_owned())),
            ..ServicePort::default()
        });
    }
    m.push(&Service {
        metadata: object_meta(plan, &name, COMPONENT),
        spec: Some(ServiceSpec {
            type_: Some("LoadBalancer".to_owned()),
            // Clients' own addresses reach the edge: allowlists and rate
            // limits must not see a node's.
            external_traffic_policy: Some("Local".to_owned()),
            selector: Some(BTreeMap::from_iter(selector_labels(plan, COMPONENT))),
            ports: Some(service_ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    });
}
