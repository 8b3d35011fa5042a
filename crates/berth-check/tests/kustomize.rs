//! Kustomize semantics: objects are checked as their kustomizations deploy
//! them. `tests/kustomize/shop/` is a base (a Deployment without a tag,
//! resources or probes, in `default`, and its Service) and a `prod`
//! overlay that fixes all of it: `namespace:`, `images:`, a patch file
//! with replicas (`patches:`) and one with resources and probes
//! (`patchesStrategicMerge:`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::path::Path;

use berth_check::{Input, check};

fn shop() -> Vec<Input> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize/shop");
    berth_test_support::read_tree(&dir).into_iter().map(|(path, text)| Input { path, text }).collect()
}

/// The tree with `path` replaced (or added) with `text`.
fn with(mut inputs: Vec<Input>, path: &str, text: &str) -> Vec<Input> {
    inputs.retain(|i| i.path != path);
    inputs.push(Input { path: path.to_owned(), text: text.to_owned() });
    inputs
}

fn without(mut inputs: Vec<Input>, prefix: &str) -> Vec<Input> {
    inputs.retain(|i| !i.path.starts_with(prefix));
    inputs
}

/// (code, file, message) of every finding.
fn findings(inputs: Vec<Input>) -> Vec<(String, String, String)> {
    let report = check(inputs, None);
    report
        .findings
        .iter()
        .map(|f| (f.diagnostic.code.id.to_owned(), report.files[f.file].name.clone(), f.diagnostic.message.clone()))
        .collect()
}

fn has(found: &[(String, String, String)], code: &str, path: &str) -> bool {
    found.iter().any(|(c, p, _)| c == code && p == path)
}

const DEPLOYMENT: &str = "base/deployment.yaml";
const SERVICE: &str = "base/service.yaml";

#[test]
fn the_base_deployed_alone_has_the_findings_the_overlay_fixes() {
    let found = findings(without(shop(), "overlays/"));
    for code in ["K005", "K006", "K008", "K013"] {
        assert!(has(&found, code, DEPLOYMENT), "{code} on the base alone: {found:?}");
    }
}

#[test]
fn patch_files_are_not_linted_as_objects() {
    let found = findings(shop());
    for patch in ["overlays/prod/replicas.yaml", "overlays/prod/resources.yaml"] {
        let on_patch: Vec<_> = found.iter().filter(|(_, p, _)| p == patch).collect();
        assert!(on_patch.is_empty(), "a patch is no Deployment of its own: {on_patch:?}");
    }
    // Nor a second Deployment `web` for the rules that link objects.
    assert!(found.iter().all(|(_, _, m)| !m.contains("replicas.yaml") && !m.contains("resources.yaml")), "{found:?}");
}

#[test]
fn images_new_tag_pins_the_image_the_overlay_deploys() {
    let found = findings(shop());
    assert!(!has(&found, "K008", DEPLOYMENT), "newTag: 1.4.2 pins it: {found:?}");

    let latest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize/shop/overlays/prod/kustomization.yaml"),
    )
    .unwrap()
    .replace("newTag: 1.4.2", "newTag: latest");
    let found = findings(with(shop(), "overlays/prod/kustomization.yaml", &latest));
    assert!(
        found.iter().any(|(c, p, m)| c == "K008" && p == DEPLOYMENT && m.contains("ghcr.io/acme/web:latest")),
        "the rewritten image is what is judged: {found:?}"
    );
}

#[test]
fn the_overlay_namespace_moves_objects_out_of_default_and_links_them() {
    let found = findings(shop());
    assert!(!has(&found, "K013", DEPLOYMENT), "namespace: shop replaces default: {found:?}");
    assert!(!has(&found, "X001", SERVICE) && !has(&found, "X002", SERVICE), "{found:?}");

    // The Service names no namespace and the Deployment names `default`:
    // only the overlay puts them side by side, so only then does the
    // Service reach the pods (and its wrong target port shows).
    let service =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize/shop").join(SERVICE))
            .unwrap()
            .replace("targetPort: http", "targetPort: metrics");
    let found = findings(with(shop(), SERVICE, &service));
    assert!(has(&found, "X001", SERVICE), "linked in namespace shop: {found:?}");
    let alone = findings(with(without(shop(), "overlays/"), SERVICE, &service));
    assert!(!has(&alone, "X001", SERVICE), "apart without the overlay: {alone:?}");
}

#[test]
fn a_strategic_merge_patch_adding_resources_and_probes_fixes_the_base_for_its_overlay() {
    let found = findings(shop());
    assert!(!has(&found, "K005", DEPLOYMENT), "{found:?}");
    assert!(!has(&found, "K006", DEPLOYMENT), "{found:?}");

    // A second overlay that deploys the base as it is: the findings are
    // back, for what that overlay deploys.
    let dev = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-dev\nresources:\n  - ../../base\n";
    let found = findings(with(shop(), "overlays/dev/kustomization.yaml", dev));
    assert!(has(&found, "K005", DEPLOYMENT), "{found:?}");
    assert!(has(&found, "K006", DEPLOYMENT), "{found:?}");
    assert!(!has(&found, "K013", DEPLOYMENT), "both overlays leave `default`: {found:?}");
}

#[test]
fn an_inline_json_patch_is_applied_to_its_target() {
    let prod = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop
resources:
  - ../../base
images:
  - name: ghcr.io/acme/web
    newTag: 1.4.2
patches:
  - target:
      kind: Deployment
      name: web
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/resources
        value:
          requests: { cpu: 100m, memory: 128Mi }
          limits: { memory: 256Mi }
";
    let inputs = without(with(shop(), "overlays/prod/kustomization.yaml", prod), "overlays/prod/re");
    let found = findings(inputs);
    assert!(!has(&found, "K005", DEPLOYMENT), "resources added by the JSON patch: {found:?}");
    assert!(has(&found, "K006", DEPLOYMENT), "no patch adds the probes here: {found:?}");
}

#[test]
fn a_base_shared_by_two_overlays_labels_its_own_selectors_and_the_overlays_do_not() {
    // The base's commonLabels rewrite `app` in the Service's selector and
    // the pod template alike (UAV-PLATFORM-V2's k8s/base): nothing to
    // report. Each overlay's own commonLabels reach the templates; had
    // they reached the shared selectors, they would be the first overlay's.
    let base = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
commonLabels:
  app: shop
resources:
  - deployment.yaml
  - service.yaml
";
    let overlay = |env: &str| {
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-{env}\ncommonLabels:\n  environment: {env}\nresources:\n  - ../../base\n"
        )
    };
    let inputs = with(shop(), "base/kustomization.yaml", base);
    let inputs = with(inputs, "overlays/prod/kustomization.yaml", &overlay("prod"));
    let found = findings(with(inputs, "overlays/dev/kustomization.yaml", &overlay("dev")));
    assert!(!has(&found, "X002", SERVICE), "{found:?}");

    // Labels the base gives the templates only (`includeTemplates`, no
    // `includeSelectors`) leave the selector on pods nobody deploys.
    let templates_only =
        base.replace("commonLabels:\n  app: shop\n", "labels:\n  - pairs: { app: shop }\n    includeTemplates: true\n");
    let inputs = with(shop(), "base/kustomization.yaml", &templates_only);
    let inputs = with(inputs, "overlays/prod/kustomization.yaml", &overlay("prod"));
    let found = findings(with(inputs, "overlays/dev/kustomization.yaml", &overlay("dev")));
    assert!(has(&found, "X002", SERVICE), "{found:?}");
}
