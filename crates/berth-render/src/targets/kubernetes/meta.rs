use std::collections::BTreeMap;

use berth_plan::{Plan, ScrapeKind};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::json;

use super::Manifest;

pub fn namespace(plan: &Plan) -> String {
    plan.targets.kubernetes.as_ref().and_then(|k| k.namespace.clone()).unwrap_or_else(|| plan.project.clone())
}

/// Labels every object of a component carries; the first two select pods.
pub fn labels(plan: &Plan, component: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(plan, component);
    l.insert("app.kubernetes.io/managed-by".to_owned(), "berth".to_owned());
    l
}

pub fn selector_labels(plan: &Plan, component: &str) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert("app.kubernetes.io/name".to_owned(), component.to_owned());
    l.insert("app.kubernetes.io/part-of".to_owned(), plan.project.clone());
    l
}

pub fn selector(plan: &Plan, component: &str) -> LabelSelector {
    LabelSelector { match_labels: Some(selector_labels(plan, component)), ..LabelSelector::default() }
}

pub fn object_meta(plan: &Plan, name: &str, component: &str) -> ObjectMeta {
    let annotations = plan.targets.kubernetes.as_ref().map(|k| k.annotations.clone()).filter(|a| !a.is_empty());
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace(plan)),
        labels: Some(labels(plan, component)),
        annotations,
        ..ObjectMeta::default()
    }
}

pub fn namespace_object(plan: &Plan) -> Namespace {
    let mut labels = BTreeMap::new();
    labels.insert("app.kubernetes.io/part-of".to_owned(), plan.project.clone());
    labels.insert("pod-security.kubernetes.io/enforce".to_owned(), "restricted".to_owned());
    Namespace {
        metadata: ObjectMeta { name: Some(namespace(plan)), labels: Some(labels), ..ObjectMeta::default() },
        ..Namespace::default()
    }
}

/// Prometheus Operator ServiceMonitors (a CRD, so not a k8s-openapi type).
pub fn service_monitors(plan: &Plan, m: &mut Manifest) {
    for target in plan.monitoring.scrape_targets.iter().filter(|t| t.kind == ScrapeKind::Service) {
        let Some(service) = plan.services.iter().find(|s| s.name == target.subject) else { continue };
        let Some(metrics) = &service.metrics else { continue };
        m.push(&json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": { "name": service.name, "namespace": namespace(plan), "labels": labels(plan, &service.name) },
            "spec": {
                "jobLabel": "app.kubernetes.io/name",
                "selector": { "matchLabels": selector_labels(plan, &service.name) },
                "endpoints": [{ "port": metrics.port.name, "path": metrics.path, "interval": plan.monitoring.scrape_interval.to_string() }],
            }
        }));
    }
}
