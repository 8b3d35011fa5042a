//! A Helm chart of the same objects as the kubernetes target, with values
//! for each service's image, replica count and resources, and the release
//! namespace in place of the spec's.

use std::fmt::Write as _;

use berth_plan::{Plan, Replicas};
use serde_json::{Map, Value, json};

use super::kubernetes;
use crate::{Output, header, yaml};

const IMAGE: &str = "__berth_helm_image__";
const REPLICAS: &str = "__berth_helm_replicas__";
const RESOURCES: &str = "__berth_helm_resources__";
const SPEC: &str = "__berth_helm_spec__";
/// The spec ships as a chart file: `.Files.Get` leaves its text alone,
/// where a template would read any `{{` in it as an expression.
const SPEC_FILE: &str = "files/berth.yaml";
/// A service's configuration file, shipped the same way as `files/<service>/<key>`.
const FILE: &str = "__berth_helm_file__";

fn chart_file(service: &str, key: &str) -> String {
    format!("files/{service}/{key}")
}

/// `ghcr.io/acme/api:1.2` → (`ghcr.io/acme/api`, `1.2`); a digest keeps its `sha256:`.
fn split_image(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_owned(), digest.to_owned());
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_owned(), tag.to_owned()),
        _ => (image.to_owned(), "latest".to_owned()),
    }
}

/// `(index .Values.services "api")`: service names may hold `-`.
fn values_of(service: &str) -> String {
    format!("(index .Values.services \"{service}\")")
}

pub fn render(plan: &Plan, spec_text: &str) -> Output {
    let (files, kube) = kubernetes::objects(plan, spec_text);
    let mut out = Output { diagnostics: kube.diagnostics, ..Output::default() };
    let mut services = Map::new();
    for s in &plan.services {
        let Some(image) = &s.image else { continue };
        let (repository, tag) = split_image(image);
        let mut v = json!({ "image": { "repository": repository, "tag": tag } });
        if let Replicas::Fixed { count } = s.replicas {
            v["replicas"] = json!(count);
        }
        let resources = json!({
            "requests": quantities(s.resources.requests.cpu, s.resources.requests.memory),
            "limits": with_gpu(quantities(s.resources.limits.cpu, s.resources.limits.memory), s),
        });
        v["resources"] = resources;
        services.insert(s.name.clone(), v);
    }
    for (path, manifest) in files {
        if path.starts_with("monitoring/") && !plan.targets.kubernetes.as_ref().is_some_and(|k| k.service_monitor) {
            continue;
        }
        let docs: Vec<Value> =
            manifest.docs.into_iter().filter(|d| d["kind"] != "Namespace").map(|d| templated(plan, d)).collect();
        if docs.is_empty() {
            continue;
        }
        let text = kubernetes::to_yaml(&docs);
        let mut body = header::comment("#", plan, "helm");
        for line in text.lines() {
            body.push_str(&expand(line));
            body.push('\n');
        }
        out.file(format!("chart/templates/{path}"), body);
    }
    let app_version = plan
        .services
        .iter()
        .find_map(|s| s.image.as_deref().map(|i| split_image(i).1))
        .unwrap_or_else(|| "0.1.0".to_owned());
    let mut chart = header::comment("#", plan, "helm");
    let _ = write!(
        chart,
        "apiVersion: v2\nname: {p}\ndescription: {p}, rendered by berth from berth.yaml\ntype: application\nversion: 0.1.0\nappVersion: \"{app_version}\"\nkeywords: [berth]\n",
        p = plan.project
    );
    out.file("chart/Chart.yaml", chart);
    let values = json!({ "services": services });
    out.file(
        "chart/values.yaml",
        header::comment("#", plan, "helm")
            + "# Per service: image, replicas (absent when autoscaled) and resources.\n"
            + &yaml::to_string(&values),
    );
    if plan.dependency_backups().next().is_some() {
        out.file(format!("chart/{SPEC_FILE}"), spec_text);
    }
    for s in &plan.services {
        for f in &s.files {
            if let Some(content) = &f.content {
                out.file(format!("chart/{}", chart_file(&s.name, &f.key)), content.clone());
            }
        }
    }
    out.file("chart/.helmignore", ".git/\n*.swp\n*.bak\n*.tmp\n");
    out.file(
        "chart/templates/NOTES.txt",
        format!("{p} is installed in namespace {{{{ .Release.Namespace }}}}.\nServices: {list}\nSecrets are referenced, not created: create the Secret `{p}` with a key per declared secret before the pods start.\n", p = plan.project, list = plan.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")),
    );
    out
}

/// The limits plus the service's GPUs, as the kubernetes target writes them.
fn with_gpu(mut limits: Value, s: &berth_plan::ServicePlan) -> Value {
    if let Some(gpu) = s.resources.gpu {
        if !limits.is_object() {
            limits = json!({});
        }
        limits[gpu.vendor.resource()] = json!(gpu.count.to_string());
    }
    limits
}

fn quantities(cpu: Option<berth_spec::model::units::Cpu>, memory: Option<berth_spec::model::units::ByteSize>) -> Value {
    let mut m = Map::new();
    if let Some(c) = cpu {
        m.insert("cpu".to_owned(), json!(c.to_string()));
    }
    if let Some(mem) = memory {
        m.insert("memory".to_owned(), json!(mem.to_string()));
    }
    Value::Object(m)
}

/// Puts placeholders where values go, and the release namespace everywhere.
fn templated(plan: &Plan, mut doc: Value) -> Value {
    if doc["metadata"].get("namespace").is_some() {
        doc["metadata"]["namespace"] = json!("{{ .Release.Namespace }}");
    }
    let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
    let name = doc["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let is_service = plan.services.iter().any(|s| s.name == name && s.image.is_some());
    if is_service && (kind == "Deployment" || kind == "StatefulSet") {
        if doc["spec"].get("replicas").is_some() {
            doc["spec"]["replicas"] = json!(format!("{REPLICAS}{name}"));
        }
        if let Some(container) = doc["spec"]["template"]["spec"]["containers"].get_mut(0) {
            container["image"] = json!(format!("{IMAGE}{name}"));
            container["resources"] = json!(format!("{RESOURCES}{name}"));
        }
    }
    // A service's jobs run its image: an upgrade's migration runs the new one.
    let owner = plan
        .services
        .iter()
        .filter(|s| s.image.is_some())
        .find(|s| s.jobs.iter().any(|j| j.workload(&s.name) == name))
        .map(|s| s.name.clone());
    let pod = match kind.as_str() {
        "Job" => Some(&mut doc["spec"]["template"]["spec"]),
        "CronJob" => Some(&mut doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
        _ => None,
    };
    if let (Some(service), Some(pod)) = (owner, pod)
        && let Some(container) = pod["containers"].get_mut(0)
    {
        container["image"] = json!(format!("{IMAGE}{service}"));
        container["resources"] = json!(format!("{RESOURCES}{service}"));
    }
    if kind == "ConfigMap" && doc["data"].get("berth.yaml").is_some() {
        doc["data"]["berth.yaml"] = json!(SPEC);
    }
    if kind == "ConfigMap"
        && let Some(s) = plan.services.iter().find(|s| name == format!("{}-files", s.name) && !s.files.is_empty())
    {
        for f in &s.files {
            doc["data"][&f.key] = json!(format!("{FILE}{}", chart_file(&s.name, &f.key)));
        }
    }
    // ClusterRole-free namespaced objects only: NetworkPolicy peers keep their selectors.
    doc
}

/// Turns a placeholder line into its template expression.
fn expand(line: &str) -> String {
    let indent = line.len() - line.trim_start().len();
    let pad = " ".repeat(indent);
    let trimmed = line.trim_start();
    if let Some(name) = trimmed.strip_prefix("image: ").and_then(|v| v.strip_prefix(IMAGE)) {
        let v = values_of(name);
        return format!(
            "{pad}image: \"{{{{ {v}.image.repository }}}}{{{{ if hasPrefix \"sha256:\" {v}.image.tag }}}}@{{{{ else }}}}:{{{{ end }}}}{{{{ {v}.image.tag }}}}\""
        );
    }
    if let Some((key, file)) = trimmed.split_once(": ").and_then(|(k, v)| Some((k, v.strip_prefix(FILE)?))) {
        return format!("{pad}{key}: {{{{ .Files.Get \"{file}\" | quote }}}}");
    }
    if trimmed == format!("berth.yaml: {SPEC}") {
        return format!("{pad}berth.yaml: {{{{ .Files.Get \"{SPEC_FILE}\" | quote }}}}");
    }
    if let Some(name) = trimmed.strip_prefix("replicas: ").and_then(|v| v.strip_prefix(REPLICAS)) {
        return format!("{pad}replicas: {{{{ {}.replicas }}}}", values_of(name));
    }
    if let Some(name) = trimmed.strip_prefix("resources: ").and_then(|v| v.strip_prefix(RESOURCES)) {
        return format!(
            "{pad}resources:\n{pad}  {{{{- toYaml {}.resources | nindent {} }}}}",
            values_of(name),
            indent + 2
        );
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::split_image;

    #[test]
    fn images_split_into_repository_and_tag() {
        assert_eq!(split_image("ghcr.io/acme/api:1.2"), ("ghcr.io/acme/api".into(), "1.2".into()));
        assert_eq!(split_image("localhost:5000/api"), ("localhost:5000/api".into(), "latest".into()));
        assert_eq!(split_image("api@sha256:abc"), ("api".into(), "sha256:abc".into()));
    }
}
