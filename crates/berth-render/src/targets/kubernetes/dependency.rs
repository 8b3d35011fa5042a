//! PostgreSQL and Redis as StatefulSets with their own volumes, health
//! checks and, when monitoring is on, an exporter next to them.

use std::collections::BTreeMap;

use berth_plan::{DependencyPlan, Plan, PoolerPlan};
use berth_spec::DependencyKind;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, ExecAction, HTTPGetAction,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Service, ServicePort, ServiceSpec, TCPSocketAction, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{labels, object_meta, selector, selector_labels};
use super::workload::{
    claim, container_security, fixed_resources, plain_env, pod_security, quantities, secret_env, url_with_password,
};
use super::{Manifest, backup};
use crate::targets::scheduled::spec_flags;

/// Ports of the exporters that stand next to the servers.
const POSTGRES_EXPORTER: (&str, &str, u16) =
    ("quay.io/prometheuscommunity/postgres-exporter:v0.16.0", "pg-metrics", 9187);
const REDIS_EXPORTER: (&str, &str, u16) = ("oliver006/redis_exporter:v1.67.0", "redis-metrics", 9121);

/// Where PostgreSQL copies finished WAL segments for the `wal-ship`
/// sidecar: on the data volume, beside PGDATA, so a segment archived but
/// not yet shipped survives a restart of the pod.
const WAL_SPOOL: &str = "/var/lib/postgresql/data/wal-spool";

fn exec_probe(command: &[&str], period: i32, failures: i32) -> Probe {
    Probe {
        exec: Some(ExecAction { command: Some(command.iter().map(|c| (*c).to_owned()).collect()) }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

fn tcp_probe(port: &str, period: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::String(port.to_owned()), ..TCPSocketAction::default() }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

pub(crate) fn render(plan: &Plan, d: &DependencyPlan, m: &mut Manifest) {
    let name = d.name.as_str();
    // Server images run as their own users and write to fixed paths.
    let (uid, data_path) = match d.kind {
        DependencyKind::Postgres => (999, "/var/lib/postgresql/data"),
        DependencyKind::Redis => (999, "/data"),
    };
    let mut env = Vec::new();
    let mut args = Vec::new();
    let (image, command, probe) = match d.kind {
        DependencyKind::Postgres => {
            let user = d.user.clone().unwrap_or_default();
            let db = d.database.clone().unwrap_or_default();
            // The image's superuser is `postgres`; the services' role is made
            // by berth's first-start script, without SUPERUSER.
            env.push(plain_env("POSTGRES_USER", "postgres"));
            env.push(plain_env("POSTGRES_DB", &db));
            env.push(plain_env("PGDATA", "/var/lib/postgresql/data/pgdata"));
            if let Some(secret) = &d.password_secret {
                env.push(secret_env(plan, "POSTGRES_PASSWORD", secret));
            } else {
                // No password in the spec (S104 warns): the image refuses to
                // start without one unless told so.
                env.push(plain_env("POSTGRES_HOST_AUTH_METHOD", "trust"));
            }
            for (k, v) in d.server_settings().into_iter().chain(d.wal_archiving(WAL_SPOOL)) {
                args.push("-c".to_owned());
                args.push(format!("{k}={v}"));
            }
            let image = d.image();
            (image, None, exec_probe(&["pg_isready", "-U", &user, "-d", &db, "-h", "127.0.0.1"], 10, 6))
        }
        DependencyKind::Redis => {
            let mut server = vec!["redis-server".to_owned()];
            server.extend(d.redis_arguments());
            if let Some(secret) = &d.password_secret {
                env.push(secret_env(plan, "REDIS_PASSWORD", secret));
                server.push("--requirepass \"$REDIS_PASSWORD\"".to_owned());
                env.push(secret_env(plan, "REDISCLI_AUTH", secret));
            }
            let command = vec!["sh".to_owned(), "-c".to_owned(), format!("exec {}", server.join(" "))];
            (d.image(), Some(command), exec_probe(&["sh", "-c", "redis-cli ping | grep -q PONG"], 10, 6))
        }
    };
    // A read-only root: the server writes its data, sockets and temp files to volumes.
    let mut mounts = vec![
        VolumeMount { name: "data".to_owned(), mount_path: data_path.to_owned(), ..VolumeMount::default() },
        VolumeMount { name: "tmp".to_owned(), mount_path: "/tmp".to_owned(), ..VolumeMount::default() },
    ];
    let init_script = d.postgres_init_script();
    if d.kind == DependencyKind::Postgres {
        mounts.push(VolumeMount {
            name: "run".to_owned(),
            mount_path: "/var/run/postgresql".to_owned(),
            ..VolumeMount::default()
        });
    }
    if init_script.is_some() {
        // One file, not the directory: TimescaleDB's image keeps its own
        // first-start scripts there.
        mounts.push(VolumeMount {
            name: "initdb".to_owned(),
            mount_path: format!("{}/{}", berth_plan::INITDB_DIR, berth_plan::INIT_SCRIPT),
            sub_path: Some(berth_plan::INIT_SCRIPT.to_owned()),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    let mut containers = vec![Container {
        name: d.kind.as_str().to_owned(),
        image: Some(image),
        command,
        args: Some(args).filter(|a| !a.is_empty()),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some(d.kind.as_str().to_owned()),
            container_port: i32::from(d.port),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        // Readiness asks the server to answer; liveness only that it still
        // accepts connections, so a slow query or auth change never restarts it.
        readiness_probe: Some(probe),
        liveness_probe: Some(tcp_probe(d.kind.as_str(), 20)),
        resources: Some(ResourceRequirements {
            requests: quantities(d.resources.requests.and_then(|r| r.cpu), d.resources.requests.and_then(|r| r.memory)),
            limits: quantities(d.resources.limits.and_then(|r| r.cpu), d.resources.limits.and_then(|r| r.memory)),
            ..ResourceRequirements::default()
        }),
        security_context: Some(container_security(true, uid, &["ALL".to_owned()], &[])),
        volume_mounts: Some(mounts),
        ..Container::default()
    }];
    if plan.monitoring.enabled {
        let (image, port_name, port) = match d.kind {
            DependencyKind::Postgres => POSTGRES_EXPORTER,
            DependencyKind::Redis => REDIS_EXPORTER,
        };
        let mut exporter_env = Vec::new();
        match (d.kind, &d.password_secret) {
            (DependencyKind::Postgres, Some(secret)) => {
                exporter_env.push(secret_env(plan, "DB_PASSWORD", secret));
                exporter_env.push(plain_env(
                    "DATA_SOURCE_NAME",
                    &format!(
                        "{}?sslmode=disable",
                        url_with_password(&d.url.replace(&format!("@{name}:"), "@127.0.0.1:"), "DB_PASSWORD")
                    ),
                ));
            }
            (DependencyKind::Postgres, None) => exporter_env.push(plain_env(
                "DATA_SOURCE_NAME",
                &format!("{}?sslmode=disable", d.url.replace(&format!("@{name}:"), "@127.0.0.1:")),
            )),
            (DependencyKind::Redis, secret) => {
                exporter_env.push(plain_env("REDIS_ADDR", &format!("redis://127.0.0.1:{}", d.port)));
                if let Some(secret) = secret {
                    exporter_env.push(secret_env(plan, "REDIS_PASSWORD", secret));
                }
            }
        }
        containers.push(Container {
            name: "exporter".to_owned(),
            image: Some(image.to_owned()),
            env: Some(exporter_env),
            ports: Some(vec![ContainerPort {
                name: Some(port_name.to_owned()),
                container_port: i32::from(port),
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            }]),
            readiness_probe: Some(Probe {
                http_get: Some(HTTPGetAction {
                    path: Some("/metrics".to_owned()),
                    port: IntOrString::String(port_name.to_owned()),
                    ..HTTPGetAction::default()
                }),
                period_seconds: Some(30),
                ..Probe::default()
            }),
            liveness_probe: Some(tcp_probe(port_name, 60)),
            resources: Some(fixed_resources((10, 32 << 20), (200, 128 << 20))),
            security_context: Some(container_security(true, 65534, &["ALL".to_owned()], &[])),
            ..Container::default()
        });
    }
    let mut volumes = vec![
        Volume { name: "run".to_owned(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() },
        Volume { name: "tmp".to_owned(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() },
    ];
    if let Some(script) = init_script {
        let map = format!("{name}-initdb");
        let data = BTreeMap::from([(berth_plan::INIT_SCRIPT.to_owned(), script)]);
        m.push(&ConfigMap { metadata: object_meta(plan, &map, name), data: Some(data), ..ConfigMap::default() });
        volumes.push(Volume {
            name: "initdb".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: map,
                default_mode: Some(0o555),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    if d.archives_wal() {
        let (spec_volume, spec_mount) = backup::spec_volume(plan);
        containers.push(wal_shipper(plan, d, uid, spec_mount));
        volumes.push(spec_volume);
    }
    m.push(&StatefulSet {
        metadata: object_meta(plan, name, name),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name.to_owned()),
            selector: selector(plan, name),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels(plan, name)), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(uid)),
                    containers,
                    volumes: Some(volumes),
                    termination_grace_period_seconds: Some(60),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![claim(plan, "data", name, d.storage)]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    });
    let mut ports = vec![ServicePort {
        name: Some(d.kind.as_str().to_owned()),
        port: i32::from(d.port),
        target_port: Some(IntOrString::String(d.kind.as_str().to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }];
    if plan.monitoring.enabled {
        let (_, port_name, port) = match d.kind {
            DependencyKind::Postgres => POSTGRES_EXPORTER,
            DependencyKind::Redis => REDIS_EXPORTER,
        };
        ports.push(ServicePort {
            name: Some(port_name.to_owned()),
            port: i32::from(port),
            target_port: Some(IntOrString::String(port_name.to_owned())),
            protocol: Some("TCP".to_owned()),
            ..ServicePort::default()
        });
    }
    m.push(&Service {
        metadata: object_meta(plan, name, name),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(plan, name)),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    });
}

/// Where the pooler's files live in its pod: the configuration from a
/// ConfigMap, the user list an init container writes from the secret.
const POOLER_CONFIG: &str = "/etc/pgbouncer";
const POOLER_AUTH: &str = "/etc/pgbouncer-auth";
/// The image's own user (`postgres` in Alpine).
const POOLER_UID: u32 = 70;

/// PgBouncer in front of `d`: a ConfigMap with its `pgbouncer.ini`, a
/// Deployment of two replicas (one PgBouncer process per core, and a
/// restart of one leaves the other serving) and a Service on 6432.
pub(crate) fn pooler(plan: &Plan, d: &DependencyPlan, m: &mut Manifest) {
    let Some(p) = &d.pooler else { return };
    let name = p.name.as_str();
    let ini = p.ini(d, (&d.name, d.port), ("0.0.0.0", p.port), &format!("{POOLER_AUTH}/userlist.txt"));
    let mut data = BTreeMap::new();
    data.insert("pgbouncer.ini".to_owned(), ini.clone());
    m.push(&ConfigMap { metadata: object_meta(plan, name, name), data: Some(data), ..ConfigMap::default() });
    // The user list holds the password, so it is made in the pod from the
    // secret and never written to a rendered file.
    let mut env = vec![plain_env("PGUSER", d.user.as_deref().unwrap_or_default())];
    if let Some(secret) = &d.password_secret {
        env.push(secret_env(plan, "PGPASSWORD", secret));
    }
    let write_userlist =
        berth_plan::userlist_script("\"$PGUSER\"", "\"${PGPASSWORD:-}\"", &format!("{POOLER_AUTH}/userlist.txt"));
    let auth_mount = |read_only: bool| VolumeMount {
        name: "auth".to_owned(),
        mount_path: POOLER_AUTH.to_owned(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    };
    let security = container_security(true, POOLER_UID, &["ALL".to_owned()], &[]);
    let init = Container {
        name: "userlist".to_owned(),
        image: Some(PoolerPlan::IMAGE.to_owned()),
        command: Some(vec!["sh".to_owned(), "-c".to_owned(), write_userlist]),
        env: Some(env),
        volume_mounts: Some(vec![auth_mount(false)]),
        resources: Some(fixed_resources((10, 16 << 20), (100, 32 << 20))),
        security_context: Some(security.clone()),
        ..Container::default()
    };
    let container = Container {
        name: "pgbouncer".to_owned(),
        image: Some(PoolerPlan::IMAGE.to_owned()),
        command: Some(vec!["pgbouncer".to_owned(), format!("{POOLER_CONFIG}/pgbouncer.ini")]),
        ports: Some(vec![ContainerPort {
            name: Some("pgbouncer".to_owned()),
            container_port: i32::from(p.port),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(tcp_probe("pgbouncer", 10)),
        liveness_probe: Some(tcp_probe("pgbouncer", 20)),
        resources: Some(ResourceRequirements {
            requests: quantities(p.resources.requests.and_then(|r| r.cpu), p.resources.requests.and_then(|r| r.memory)),
            limits: quantities(p.resources.limits.and_then(|r| r.cpu), p.resources.limits.and_then(|r| r.memory)),
            ..ResourceRequirements::default()
        }),
        security_context: Some(security),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "config".to_owned(),
                mount_path: POOLER_CONFIG.to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            auth_mount(true),
        ]),
        ..Container::default()
    };
    let digest = berth_plan::sha256_hex(ini.as_bytes());
    let mut annotations = BTreeMap::new();
    // A changed pool rolls the pods: PgBouncer reads its file at start.
    annotations.insert("berth.dev/config-sha256".to_owned(), digest);

    m.push(&Deployment {
        metadata: object_meta(plan, name, name),
        spec: Some(DeploymentSpec {
            replicas: Some(2),
            selector: selector(plan, name),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(plan, name)),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(POOLER_UID)),
                    init_containers: Some(vec![init]),
                    containers: vec![container],
                    volumes: Some(vec![
                        Volume {
                            name: "config".to_owned(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: name.to_owned(),
                                ..ConfigMapVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        Volume {
                            name: "auth".to_owned(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                medium: Some("Memory".to_owned()),
                                ..EmptyDirVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                    ]),
                    termination_grace_period_seconds: Some(30),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    });
    m.push(&Service {
        metadata: object_meta(plan, name, name),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(plan, name)),
            ports: Some(vec![ServicePort {
                name: Some("pgbouncer".to_owned()),
                port: i32::from(p.port),
                target_port: Some(IntOrString::String("pgbouncer".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    });
}

/// The exporter port next to a dependency, when monitoring is on.
pub fn exporter_port(kind: DependencyKind) -> u16 {
    match kind {
        DependencyKind::Postgres => POSTGRES_EXPORTER.2,
        DependencyKind::Redis => REDIS_EXPORTER.2,
    }
}

/// The sidecar that ships the WAL spool to the backup destination every
/// second (`berth backup wal-ship`), as the server's user so it can read
/// and remove what the server wrote.
fn wal_shipper(plan: &Plan, d: &DependencyPlan, uid: u32, spec_mount: VolumeMount) -> Container {
    // Wedged when a segment waits in the spool for twice the recovery point.
    let rpo = d.backup.as_ref().and_then(|b| b.recovery_point).map_or(300, |r| r.as_secs());
    let minutes = (rpo * 2).div_ceil(60).max(2);
    let stuck = format!("test -z \"$(find {WAL_SPOOL} -type f -mmin +{minutes})\"");
    Container {
        liveness_probe: Some(exec_probe(&["sh", "-c", &stuck], 60, 3)),
        name: "wal-ship".to_owned(),
        image: Some(backup::berth_image()),
        command: Some(
            format!("berth backup wal-ship {} {} --spool {WAL_SPOOL}", d.name, spec_flags(plan, backup::SPEC_PATH))
                .split(' ')
                .map(str::to_owned)
                .collect(),
        ),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "data".to_owned(),
                mount_path: "/var/lib/postgresql/data".to_owned(),
                ..VolumeMount::default()
            },
            spec_mount,
            VolumeMount { name: "tmp".to_owned(), mount_path: "/tmp".to_owned(), ..VolumeMount::default() },
        ]),
        resources: Some(fixed_resources((10, 32 << 20), (500, 256 << 20))),
        security_context: Some(container_security(true, uid, &["ALL".to_owned()], &[])),
        ..Container::default()
    }
}
