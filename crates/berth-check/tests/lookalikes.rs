#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
//! Files that look like what they are not: a Helm chart's templates look
//! like Kubernetes YAML and are Go templates; the spec a chart ships in
//! `files/` looks like a deployment and is chart data; Grafana's provider
//! for berth's dashboards is named `berth.yaml` and is no spec. None of
//! them gives a finding (`tests/lookalikes/`), while a real spec is still
//! found by its content, and berth's own renders, checked as they are
//! written, agree with the check.

use std::path::Path;

use berth_check::format::{Format, render};
use berth_check::{Input, Kind, Report, check};
use berth_diagnostics::Severity;

fn tree() -> Vec<Input> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lookalikes");
    berth_test_support::read_tree(&dir).into_iter().map(|(path, text)| Input { path, text }).collect()
}

fn human(report: &Report) -> String {
    render(Format::Human, report, Severity::Info, false)
}

fn kind_of(report: &Report, path: &str) -> Kind {
    let index = report.files.iter().position(|f| f.name == path).unwrap_or_else(|| panic!("{path} not in the report"));
    report.kinds[index]
}

#[test]
fn chart_templates_chart_data_and_grafanas_berth_yaml_give_no_findings() {
    let report = check(tree(), None);
    assert!(report.findings.is_empty(), "{}", human(&report));
    assert_eq!(kind_of(&report, "helm/chart/Chart.yaml"), Kind::HelmChart);
    assert_eq!(kind_of(&report, "helm/chart/templates/deployment.yaml"), Kind::HelmTemplate);
    assert_eq!(kind_of(&report, "helm/chart/templates/service.yaml"), Kind::HelmTemplate);
    assert_eq!(kind_of(&report, "helm/chart/files/berth.yaml"), Kind::Other);
    assert_eq!(kind_of(&report, "grafana/provisioning/dashboards/berth.yaml"), Kind::Yaml);
    // Chart data is not expanded as a spec.
    assert!(report.files.iter().all(|f| !f.name.contains('→')), "{:?}", report.files);
    // The skipped templates are said, once, on the chart.
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert_eq!(report.files[report.notes[0].file].name, "helm/chart/Chart.yaml");
    assert!(report.notes[0].message.contains("2 template(s)"), "{}", report.notes[0].message);
    let shown = human(&report);
    assert!(shown.contains("note: helm/chart/Chart.yaml: Helm chart not rendered"), "{shown}");
    assert!(shown.ends_with("0 error(s), 0 warning(s)\n"), "{shown}");
}

/// The fixture is bait: without its `Chart.yaml` one template is linted as
/// a Deployment and the shipped spec is checked as a deployment of its
/// own. The template that does not parse is still no E001: a file with
/// `{{` that is not YAML is a template of some tool, not a broken file.
#[test]
fn without_the_chart_file_the_templates_would_be_findings() {
    let inputs: Vec<Input> = tree().into_iter().filter(|i| i.path != "helm/chart/Chart.yaml").collect();
    let report = check(inputs, None);
    let codes: Vec<(&str, &str)> =
        report.findings.iter().map(|f| (report.files[f.file].name.as_str(), f.diagnostic.code.id)).collect();
    assert!(!codes.contains(&("helm/chart/templates/service.yaml", "E001")), "{codes:?}");
    assert!(codes.contains(&("helm/chart/templates/deployment.yaml", "K005")), "{codes:?}");
    assert!(report.files.iter().any(|f| f.name.starts_with("helm/chart/files/berth.yaml → ")), "{:?}", report.files);
}

#[test]
fn a_spec_is_found_by_its_content() {
    let root = berth_test_support::workspace_root();
    let spec = std::fs::read_to_string(root.join("examples/minimal/berth.yaml")).unwrap();
    for path in ["berth.yaml", "deploy/hello.yaml", "deploy/berth.yml"] {
        let report = check(vec![Input { path: path.into(), text: spec.clone() }], None);
        assert_eq!(report.kinds[0], Kind::BerthSpec, "{path}");
        assert!(report.files.iter().any(|f| f.name == format!("{path} → kubernetes/service-web.yaml")), "{path}");
    }
    // Named `berth.yaml`, a spec that only opens like one still gets its
    // diagnostics rather than being passed over.
    let typo = vec![Input { path: "berth.yaml".into(), text: "version: 1\nname: x\nservcies: {}\n".into() }];
    let typo = check(typo, None);
    assert_eq!(typo.kinds[0], Kind::BerthSpec);
    assert!(typo.findings.iter().any(|f| f.diagnostic.code.id == "S101"), "{}", human(&typo));
    // Under another name, only the whole signature makes a spec.
    let other = check(vec![Input { path: "config.yaml".into(), text: "version: 1\nname: x\n".into() }], None);
    assert_eq!(other.kinds[0], Kind::Other);
}

/// What `berth render all` writes, checked as it lies on disk (the spec
/// beside `compose.yaml`, the chart with its copy of the spec, Grafana's
/// `berth.yaml`): no finding for any example in any environment. The spec
/// beside its own renders is validated, not rendered a second time.
#[test]
fn berths_own_renders_pass_as_written() {
    for (name, text, envs) in berth_test_support::example_environments() {
        for env in envs {
            let Some(spec) = berth_spec::load(&text, env.as_deref()).spec else { panic!("{name} {env:?} loads") };
            let mut plan = berth_plan::build(&spec, env.as_deref());
            assert!(plan.read_files(berth_test_support::example_file(&name)).is_empty(), "{name}: files");
            let rendered = berth_render::render(&plan, &text, berth_render::Target::ALL);
            let inputs = rendered.files.into_iter().map(|f| Input { path: f.path, text: f.contents }).collect();
            let report = check(inputs, None);
            assert!(report.findings.is_empty(), "{name} ({env:?}):\n{}", human(&report));
            assert!(report.files.iter().all(|f| !f.name.contains('→')), "{name} ({env:?}): a spec was rendered again");
        }
    }
}
