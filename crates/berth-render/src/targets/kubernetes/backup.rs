//! A CronJob per backup policy. It runs `berth backup`, `berth backup
//! verify` and `berth backup prune`, the same commands every target
//! schedules, against the spec shipped in the `<project>-spec` ConfigMap.

use std::collections::BTreeMap;

use berth_plan::{BackupJob, Plan};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Manifest;
use super::meta::{labels, object_meta};
use super::workload::{container_security, fixed_resources, pod_security, secret_env};
use crate::Output;
use crate::targets::{Target, scheduled};

/// Where jobs that run berth find the spec: the `<project>-spec` ConfigMap,
/// mounted read-only.
pub const SPEC_PATH: &str = "/etc/berth/berth.yaml";

/// The spec the plan was built from, for the CronJobs and WAL shippers to
/// rebuild the same plan. A spec holds secret references, never values, so
/// a ConfigMap is the right home for it.
pub fn spec_config_map(plan: &Plan, spec_text: &str, m: &mut Manifest) {
    m.push(&ConfigMap {
        metadata: object_meta(plan, &spec_config_map_name(plan), "spec"),
        data: Some(BTreeMap::from([("berth.yaml".to_owned(), spec_text.to_owned())])),
        ..ConfigMap::default()
    });
}

pub fn spec_config_map_name(plan: &Plan) -> String {
    format!("{}-spec", plan.project)
}

/// The volume (named `spec`) and its mount at [`SPEC_PATH`]'s directory.
pub fn spec_volume(plan: &Plan) -> (Volume, VolumeMount) {
    let volume = Volume {
        name: "spec".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: spec_config_map_name(plan),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    let mount = VolumeMount {
        name: "spec".to_owned(),
        mount_path: "/etc/berth".to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    (volume, mount)
}

/// The berth image the jobs run: the one place it is named.
pub fn berth_image() -> String {
    crate::BERTH_IMAGE.to_owned()
}

pub(crate) fn cronjob(plan: &Plan, job: &BackupJob, m: &mut Manifest, out: &mut Output) {
    if !job.to.contains("://") || job.to.starts_with("file://") {
        out.unsupported(
            Target::Kubernetes,
            format!("the local backup destination `{}` of `{}`", job.to, job.name),
            "a CronJob pod's files go with the pod; back up to object storage (s3://, gs://, az://)",
        );
    }
    let component = format!("backup-{}", job.name);
    let dep = plan.dependencies.iter().find(|d| d.name == job.name);
    let (spec_volume, spec_mount) = spec_volume(plan);
    let script = scheduled::backup_commands(plan, job, "berth", SPEC_PATH, None).join(" && ");
    // The password, the key that signs and checks the manifests, and the
    // age identity the stored files are encrypted to (each secret once).
    let password = dep.and_then(|d| d.password_secret.as_ref());
    let mut secrets: Vec<&String> = Vec::new();
    for s in password.into_iter().chain(&job.signing_key_secret).chain(&job.encryption_key_secret) {
        if !secrets.contains(&s) {
            secrets.push(s);
        }
    }
    let env: Vec<_> = secrets.into_iter().map(|s| secret_env(plan, &berth_plan::secret_env_name(s), s)).collect();
    let env = (!env.is_empty()).then_some(env);
    let container = Container {
        name: "backup".to_owned(),
        image: Some(berth_image()),
        command: Some(vec!["sh".to_owned(), "-c".to_owned(), script]),
        env,
        volume_mounts: Some(vec![
            spec_mount,
            VolumeMount { name: "work".to_owned(), mount_path: "/var/lib/berth".to_owned(), ..VolumeMount::default() },
            VolumeMount { name: "tmp".to_owned(), mount_path: "/tmp".to_owned(), ..VolumeMount::default() },
        ]),
        resources: Some(fixed_resources((100, 128 << 20), (1000, 1 << 30))),
        security_context: Some(container_security(true, 10001, &["ALL".to_owned()], &[])),
        ..Container::default()
    };
    m.push(&CronJob {
        metadata: object_meta(plan, &component, &component),
        spec: Some(CronJobSpec {
            schedule: job.schedule.0.clone(),
            time_zone: Some("Etc/UTC".to_owned()),
            concurrency_policy: Some("Forbid".to_owned()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(5),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta { labels: Some(labels(plan, &component)), ..ObjectMeta::default() }),
                        spec: Some(PodSpec {
                            restart_policy: Some("Never".to_owned()),
                            automount_service_account_token: Some(false),
                            security_context: Some(pod_security(10001)),
                            containers: vec![container],
                            volumes: Some(vec![
                                spec_volume,
                                Volume {
                                    name: "work".to_owned(),
                                    empty_dir: Some(EmptyDirVolumeSource::default()),
                                    ..Volume::default()
                                },
                                Volume {
                                    name: "tmp".to_owned(),
                                    empty_dir: Some(EmptyDirVolumeSource::default()),
                                    ..Volume::default()
                                },
                            ]),
                            ..PodSpec::default()
                        }),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    });
}
