//! A service's jobs: a CronJob per scheduled job (suspended for on-demand
//! ones, which `kubectl create job --from=cronjob/...` starts), and a Job
//! per deploy gate, a Helm `pre-upgrade` hook so that a failed migration
//! stops the upgrade with the old pods serving.
//!
//! Job pods run the service's container with the job's command, without
//! ports, probes or the drain, under their own labels (so the Service never
//! routes to them) and their own NetworkPolicy (DNS and the service's
//! dependencies). Their environment is written out in the pod rather than
//! read from the service's ConfigMap: a pre-upgrade hook runs before the
//! release updates that ConfigMap and must see the new values.

use std::collections::BTreeMap;

use berth_plan::{EnvValue, JobPlan, JobTrigger, Plan, ServicePlan};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Manifest;
use super::meta::{labels, object_meta};
use super::workload::plain_env;
use crate::{Output, Target};

/// Never: February 31st. An on-demand job's CronJob is also suspended.
const NEVER: &str = "0 0 31 2 *";

/// The file a deploy gate's Job is written to, apart from the objects
/// `kubectl apply -k` applies: with plain kubectl it must complete first.
pub fn gate_file(service: &str, job: &JobPlan) -> String {
    format!("jobs/{}.yaml", job.workload(service))
}

/// The jobs of `s`, whose pods are `template` (the service's) with the
/// job's command. Scheduled and on-demand ones go to `m`; gates to `gates`
/// by file.
pub(crate) fn render(
    plan: &Plan,
    s: &ServicePlan,
    template: &PodTemplateSpec,
    m: &mut Manifest,
    gates: &mut Vec<(String, Manifest)>,
    out: &mut Output,
) {
    if s.jobs.is_empty() {
        return;
    }
    if s.volumes.iter().any(|v| v.persistent) {
        out.unsupported(
            Target::Kubernetes,
            format!("the persistent volumes of `{}` in its jobs", s.name),
            "each replica owns its claim (ReadWriteOnce), so a job's pod cannot mount it; its jobs run without them",
        );
    }
    for job in &s.jobs {
        let component = job.workload(&s.name);
        let pod = pod(plan, s, job, template, &component);
        let spec = JobSpec {
            backoff_limit: Some(i32::try_from(job.retries).unwrap_or(i32::MAX)),
            active_deadline_seconds: Some(i64::try_from(job.timeout.ceil_secs()).unwrap_or(i64::MAX)),
            template: pod,
            ..JobSpec::default()
        };
        match &job.trigger {
            JobTrigger::BeforeDeploy => {
                let mut meta = object_meta(plan, &component, &component);
                let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
                // On install nothing older serves and the dependencies must
                // exist first: after. On upgrade: before, and a failure
                // fails the upgrade. The last run is kept until the next.
                annotations.insert("helm.sh/hook".to_owned(), "post-install,pre-upgrade".to_owned());
                annotations.insert("helm.sh/hook-delete-policy".to_owned(), "before-hook-creation".to_owned());
                let mut file = Manifest::new();
                file.push(&Job { metadata: meta, spec: Some(spec), ..Job::default() });
                gates.push((gate_file(&s.name, job), file));
            }
            JobTrigger::Schedule { .. } | JobTrigger::OnDemand => {
                let scheduled = job.schedule();
                m.push(&CronJob {
                    metadata: object_meta(plan, &component, &component),
                    spec: Some(CronJobSpec {
                        schedule: scheduled.map_or_else(|| NEVER.to_owned(), |s| s.0.clone()),
                        suspend: scheduled.is_none().then_some(true),
                        time_zone: Some("Etc/UTC".to_owned()),
                        concurrency_policy: Some("Forbid".to_owned()),
                        successful_jobs_history_limit: Some(3),
                        failed_jobs_history_limit: Some(5),
                        job_template: JobTemplateSpec { metadata: None, spec: Some(spec) },
                        ..CronJobSpec::default()
                    }),
                    ..CronJob::default()
                });
            }
        }
    }
}

fn pod(plan: &Plan, s: &ServicePlan, job: &JobPlan, template: &PodTemplateSpec, component: &str) -> PodTemplateSpec {
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.restart_policy = Some("Never".to_owned());
    spec.termination_grace_period_seconds =
        s.run.as_ref().map(|r| i64::try_from(r.stop_timeout.ceil_secs()).unwrap_or(i64::MAX));
    let persistent: Vec<&str> = s.volumes.iter().filter(|v| v.persistent).map(|v| v.name.as_str()).collect();
    spec.containers = spec
        .containers
        .into_iter()
        .map(|c| {
            let literals = s.env.iter().filter_map(|v| match &v.value {
                EnvValue::Literal { value } => Some(plain_env(&v.name, value)),
                _ => None,
            });
            let mut env: Vec<_> = literals.chain(c.env.clone().unwrap_or_default()).collect();
            env.push(plain_env("BERTH_JOB", &job.name));
            Container {
                name: "job".to_owned(),
                command: Some(job.command.clone()),
                args: None,
                ports: None,
                liveness_probe: None,
                readiness_probe: None,
                startup_probe: None,
                lifecycle: None,
                env_from: None,
                env: Some(env),
                volume_mounts: c
                    .volume_mounts
                    .map(|m| m.into_iter().filter(|m| !persistent.contains(&m.name.as_str())).collect::<Vec<_>>())
                    .filter(|m| !m.is_empty()),
                ..c
            }
        })
        .collect();
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels(plan, component)), ..ObjectMeta::default() }),
        spec: Some(spec),
    }
}
