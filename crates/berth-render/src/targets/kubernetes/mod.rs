//! Kubernetes manifests built from typed k8s-openapi objects, one file per
//! component plus a kustomization. Secrets are referenced (`secretKeyRef`),
//! never written; NetworkPolicies allow exactly the ports that pods listen on.

mod backup;
mod dependency;
mod gateway;
mod job;
mod meta;
mod network;
mod workload;

use berth_plan::Plan;
use serde::Serialize;
use serde_json::Value;

use crate::{Output, header, yaml};

/// The objects of one multi-document YAML file, kept as JSON values so the
/// Helm target can turn fields into template expressions.
pub(crate) struct Manifest {
    pub docs: Vec<Value>,
}

impl Manifest {
    pub fn new() -> Self {
        Self { docs: Vec::new() }
    }

    pub fn push<T: Serialize>(&mut self, object: &T) {
        self.docs.push(serde_json::to_value(object).unwrap_or(Value::Null));
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn finish(self, plan: &Plan) -> String {
        header::comment("#", plan, "kubernetes") + &to_yaml(&self.docs)
    }
}

/// Objects as YAML documents with `apiVersion`, `kind` and `metadata`
/// first, the order people read them in.
pub(crate) fn to_yaml(docs: &[Value]) -> String {
    #[derive(Serialize)]
    struct Ordered<'a> {
        #[serde(rename = "apiVersion")]
        api_version: Option<&'a Value>,
        kind: Option<&'a Value>,
        metadata: Option<&'a Value>,
        #[serde(flatten)]
        rest: serde_json::Map<String, Value>,
    }
    docs.iter()
        .map(|doc| {
            let mut rest = doc.as_object().cloned().unwrap_or_default();
            for key in ["apiVersion", "kind", "metadata"] {
                rest.remove(key);
            }
            yaml::to_string(&Ordered {
                api_version: doc.get("apiVersion"),
                kind: doc.get("kind"),
                metadata: doc.get("metadata"),
                rest,
            })
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn service_monitor(plan: &Plan) -> bool {
    plan.targets.kubernetes.as_ref().is_some_and(|k| k.service_monitor) && plan.monitoring.enabled
}

/// Every object by file, plus warnings: what both this target and Helm render.
pub(crate) fn objects(plan: &Plan, spec_text: &str) -> (Vec<(String, Manifest)>, Output) {
    let mut out = Output::default();
    let mut files: Vec<(String, Manifest)> = Vec::new();
    let mut ns = Manifest::new();
    ns.push(&meta::namespace_object(plan));
    network::default_deny(plan, &mut ns);
    files.push(("namespace.yaml".to_owned(), ns));
    let mut gates = Vec::new();
    for service in &plan.services {
        let mut m = Manifest::new();
        workload::service(plan, service, &mut m, &mut gates, &mut out);
        network::service_policy(plan, service, &mut m);
        network::job_policies(plan, service, &mut m);
        files.push((format!("service-{}.yaml", service.name), m));
    }
    files.extend(gates);
    for dep in &plan.dependencies {
        let mut m = Manifest::new();
        dependency::render(plan, dep, &mut m);
        network::dependency_policy(plan, dep, &mut m);
        dependency::pooler(plan, dep, &mut m);
        network::pooler_policy(plan, dep, &mut m);
        files.push((format!("dependency-{}.yaml", dep.name), m));
    }
    // The spec itself, for the programs that run berth in the cluster.
    // Volumes' backups are the storage's business here (support table).
    if plan.dependency_backups().next().is_some() || (plan.edge.is_some() && gateway::enabled(plan)) {
        let mut m = Manifest::new();
        backup::spec_config_map(plan, spec_text, &mut m);
        files.push(("spec.yaml".to_owned(), m));
    }
    if let Some(edge) = &plan.edge {
        let mut m = Manifest::new();
        if gateway::enabled(plan) {
            gateway::render(plan, edge, &mut m, &mut out);
            network::gateway_policy(plan, edge, &mut m);
            files.push(("gateway.yaml".to_owned(), m));
        } else {
            network::ingress(plan, edge, &mut m, &mut out);
            files.push(("ingress.yaml".to_owned(), m));
        }
    }
    if plan.dependency_backups().next().is_some() {
        let mut m = Manifest::new();
        for job in plan.dependency_backups() {
            backup::cronjob(plan, job, &mut m, &mut out);
            network::backup_policy(plan, job, &mut m);
        }
        files.push(("backups.yaml".to_owned(), m));
    }
    if service_monitor(plan) {
        let mut m = Manifest::new();
        meta::service_monitors(plan, &mut m);
        files.push(("monitoring/service-monitors.yaml".to_owned(), m));
    }
    files.retain(|(_, m)| !m.is_empty());
    (files, out)
}

/// How to deploy with the gates by hand: kubectl has no ordering, so the
/// gate Jobs stay out of the kustomization and run first.
fn gate_steps(plan: &Plan, gates: &[&String]) -> String {
    let ns = meta::namespace(plan);
    let mut text = header::comment("<!--", plan, "kubernetes").replace('\n', " -->\n");
    text.push_str(
        "# Jobs that must finish before a deploy\n\nHelm runs them as `pre-upgrade` hooks. With kubectl, run each \
         one and wait for it before applying the rest; when one fails, stop: the running version keeps serving.\n\n```sh\nset -e\n",
    );
    for file in gates {
        let name = file.trim_start_matches("jobs/").trim_end_matches(".yaml");
        let timeout = plan
            .services
            .iter()
            .flat_map(|s| s.jobs.iter().map(move |j| (j.workload(&s.name), j.timeout)))
            .find(|(w, _)| w == name)
            .map_or(600, |(_, t)| t.ceil_secs());
        text.push_str(&format!(
            "kubectl -n {ns} delete job {name} --ignore-not-found\nkubectl apply -f {file}\n\
             kubectl -n {ns} wait --for=condition=complete --timeout={timeout}s job/{name}\n"
        ));
    }
    text.push_str("kubectl apply -k .\n```\n");
    text
}

pub fn render(plan: &Plan, spec_text: &str) -> Output {
    let (files, mut out) = objects(plan, spec_text);
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    for (name, manifest) in files {
        out.file(name, manifest.finish(plan));
    }
    let mut kustomization = header::comment("#", plan, "kubernetes");
    kustomization.push_str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    let gates: Vec<&String> = names.iter().filter(|n| n.starts_with("jobs/")).collect();
    if !gates.is_empty() {
        out.file("jobs/README.md", gate_steps(plan, &gates));
    }
    for name in names.iter().filter(|n| !n.starts_with("jobs/")) {
        if name.starts_with("monitoring/") {
            kustomization.push_str("# Needs the Prometheus Operator's CRDs:\n");
        }
        kustomization.push_str(&format!("- {name}\n"));
    }

    out.file("kustomization.yaml", kustomization);
    out
}
