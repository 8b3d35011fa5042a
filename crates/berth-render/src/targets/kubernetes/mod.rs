//! Kubernetes manifests built from typed k8s-openapi objects, one file per
//! component plus a kustomization. Secrets are referenced (`secretKeyRef`),
//! never written; NetworkPolicies allow exactly the ports that pods listen on.

mod backup;
mod dependency;
mod meta;
mod network;
mod workload;

use berth_plan::Plan;
use serde::Serialize;

use crate::{Output, header, yaml};

/// A multi-document YAML file from serializable objects.
pub(crate) struct Manifest {
    docs: Vec<String>,
}

impl Manifest {
    pub fn new() -> Self {
        Self { docs: Vec::new() }
    }

    pub fn push<T: Serialize>(&mut self, object: &T) {
        self.docs.push(yaml::to_string(object));
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn finish(self, plan: &Plan) -> String {
        header::comment("#", plan, "kubernetes") + &self.docs.join("---\n")
    }
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    let mut files: Vec<(String, Manifest)> = Vec::new();
    let mut ns = Manifest::new();
    ns.push(&meta::namespace_object(plan));
    network::default_deny(plan, &mut ns);
    files.push(("namespace.yaml".to_owned(), ns));
    for service in &plan.services {
        let mut m = Manifest::new();
        workload::service(plan, service, &mut m, &mut out);
        network::service_policy(plan, service, &mut m);
        files.push((format!("service-{}.yaml", service.name), m));
    }
    for dep in &plan.dependencies {
        let mut m = Manifest::new();
        dependency::render(plan, dep, &mut m);
        network::dependency_policy(plan, dep, &mut m);
        files.push((format!("dependency-{}.yaml", dep.name), m));
    }
    if let Some(edge) = &plan.edge {
        let mut m = Manifest::new();
        network::ingress(plan, edge, &mut m, &mut out);
        files.push(("ingress.yaml".to_owned(), m));
    }
    if !plan.backups.is_empty() {
        let mut m = Manifest::new();
        for job in &plan.backups {
            backup::cronjob(plan, job, &mut m);
        }
        files.push(("backups.yaml".to_owned(), m));
    }
    let service_monitor =
        plan.targets.kubernetes.as_ref().is_some_and(|k| k.service_monitor) && plan.monitoring.enabled;
    if service_monitor {
        let mut m = Manifest::new();
        meta::service_monitors(plan, &mut m);
        if !m.is_empty() {
            out.file("monitoring/service-monitors.yaml", m.finish(plan));
        }
    }
    let names: Vec<String> = files.iter().filter(|(_, m)| !m.is_empty()).map(|(n, _)| n.clone()).collect();
    for (name, manifest) in files {
        if !manifest.is_empty() {
            out.file(name, manifest.finish(plan));
        }
    }
    let mut kustomization = header::comment("#", plan, "kubernetes");
    kustomization.push_str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    for name in names {
        kustomization.push_str(&format!("- {name}\n"));
    }
    if service_monitor {
        kustomization.push_str("# Needs the Prometheus Operator's CRDs:\n- monitoring/service-monitors.yaml\n");
    }
    out.file("kustomization.yaml", kustomization);
    out
}
