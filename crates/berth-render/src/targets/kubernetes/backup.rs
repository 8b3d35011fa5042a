//! A CronJob per backup policy. It runs `berth backup` then `berth backup
//! verify`, the same commands every target schedules, against the spec
//! mounted from the `<project>-spec` ConfigMap.

use berth_plan::{BackupJob, Plan};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EmptyDirVolumeSource, PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Manifest;
use super::meta::{labels, object_meta};
use super::workload::{container_security, fixed_resources, pod_security, secret_env};
use crate::Output;
use crate::targets::Target;

/// The berth image the jobs run, pinned to this berth's version.
pub fn berth_image() -> String {
    format!("ghcr.io/berth-dev/berth:{}", env!("CARGO_PKG_VERSION"))
}

pub(crate) fn cronjob(plan: &Plan, job: &BackupJob, m: &mut Manifest, out: &mut Output) {
    if !job.to.contains("://") || job.to.starts_with("file://") {
        out.unsupported(
            Target::Kubernetes,
            format!("the local backup destination `{}` of `{}`", job.to, job.dependency),
            "a CronJob pod's files go with the pod; back up to object storage (s3://, gs://, az://)",
        );
    }
    let component = format!("backup-{}", job.dependency);
    let dep = plan.dependencies.iter().find(|d| d.name == job.dependency);
    let mut script = format!("berth backup {dep} --spec /etc/berth/berth.yaml", dep = job.dependency);
    if job.verify {
        script.push_str(&format!(" && berth backup verify {dep} --spec /etc/berth/berth.yaml", dep = job.dependency));
    }
    let env = dep
        .and_then(|d| d.password_secret.as_ref())
        .map(|s| vec![secret_env(plan, &berth_plan::secret_env_name(s), s)]);
    let container = Container {
        name: "backup".to_owned(),
        image: Some(berth_image()),
        command: Some(vec!["sh".to_owned(), "-c".to_owned(), script]),
        env,
        volume_mounts: Some(vec![
            VolumeMount {
                name: "spec".to_owned(),
                mount_path: "/etc/berth".to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
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
                                Volume {
                                    name: "spec".to_owned(),
                                    config_map: Some(ConfigMapVolumeSource {
                                        name: format!("{}-spec", plan.project),
                                        ..ConfigMapVolumeSource::default()
                                    }),
                                    ..Volume::default()
                                },
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
