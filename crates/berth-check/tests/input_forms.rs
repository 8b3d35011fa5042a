#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
//! The shapes Kubernetes YAML arrives in: `kubectl get -o yaml` Lists (and
//! typed `...List`s), and `kustomize build` output next to its
//! kustomization. Every form builds the same graph, so the same findings
//! come out, on the lines where the objects sit.

use std::fs;
use std::path::Path;

use berth_check::{Input, check};

fn fixture(name: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/X001/bad").join(name)).unwrap()
}

/// (code, line) of every finding, sorted.
fn findings(inputs: Vec<Input>) -> Vec<(String, usize, String)> {
    let report = check(inputs, None);
    let mut out: Vec<(String, usize, String)> = report
        .findings
        .iter()
        .map(|f| {
            let file = &report.files[f.file];
            let line = f.diagnostic.span.map_or(0, |s| file.text[..s.start].matches('\n').count() + 1);
            (f.diagnostic.code.id.to_owned(), line, file.name.clone())
        })
        .collect();
    out.sort();
    out
}

fn indented(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

#[test]
fn lists_and_kustomize_output_give_the_same_findings_as_separate_files() {
    let (deploy, service) = (fixture("deploy.yaml"), fixture("service.yaml"));
    let separate = findings(vec![
        Input { path: "deploy.yaml".into(), text: deploy.clone() },
        Input { path: "service.yaml".into(), text: service.clone() },
    ]);
    assert!(separate.iter().any(|(code, ..)| code == "X001"), "{separate:?}");
    let codes = |f: &[(String, usize, String)]| f.iter().map(|(c, ..)| c.clone()).collect::<Vec<_>>();

    let list = format!("apiVersion: v1\nkind: List\nitems:\n  -\n{}  -\n{}", indented(&deploy), indented(&service));
    let from_list = findings(vec![Input { path: "all.yaml".into(), text: list.clone() }]);
    assert_eq!(codes(&from_list), codes(&separate), "{list}");
    let x001 = from_list.iter().find(|(c, ..)| c == "X001").unwrap();
    assert_eq!(list.lines().nth(x001.1 - 1).map(str::trim), Some("- { port: 80, targetPort: 8000 }"));

    let typed = list.replacen("kind: List", "kind: ServiceList", 1);
    assert_eq!(codes(&findings(vec![Input { path: "all.yaml".into(), text: typed }])), codes(&separate));

    let built = format!("# kustomize build overlays/prod\n---\n{deploy}---\n{service}");
    let kustomization =
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy.yaml, service.yaml]\n";
    let from_build = findings(vec![
        Input { path: "build.yaml".into(), text: built },
        Input { path: "kustomization.yaml".into(), text: kustomization.into() },
    ]);
    assert_eq!(codes(&from_build), codes(&separate));
    assert!(from_build.iter().all(|(.., path)| path == "build.yaml"), "{from_build:?}");
}
