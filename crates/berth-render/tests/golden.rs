//! Golden files: every file of every target for every example and
//! environment, snapshotted, and rendered twice to prove it byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_render::Target;
use berth_test_support::example_environments;

#[test]
fn renders_match_their_snapshots() {
    for (name, text, envs) in example_environments() {
        for env in envs {
            let spec = berth_spec::load(&text, env.as_deref()).spec.unwrap();
            let plan = berth_plan::build(&spec, env.as_deref());
            let first = berth_render::render(&plan, &text, Target::ALL);
            let second = berth_render::render(&plan, &text, Target::ALL);
            assert_eq!(first.files, second.files, "{name}: rendering must be deterministic");
            let env = env.as_deref().unwrap_or("base");
            for file in first.files {
                let snapshot = format!("{name}-{env}-{}", file.path.replace('/', "-"));
                insta::assert_snapshot!(snapshot, file.contents);
            }
        }
    }
}

#[test]
fn unsupported_features_warn_and_the_rest_renders() {
    let text =
        std::fs::read_to_string(berth_test_support::workspace_root().join("examples/web-api/berth.yaml")).unwrap();
    let plan = berth_plan::build(&berth_spec::load(&text, None).spec.unwrap(), None);
    let out = Target::Nginx.render(&plan, &text);
    let auth_warning =
        out.warnings.iter().find(|w| w.message.contains("edge authentication")).expect("a warning about edge auth");
    assert!(auth_warning.message.contains("nginx"), "the warning names the target: {}", auth_warning.message);
    let conf = &out.files.iter().find(|f| f.path == "nginx.conf").unwrap().contents;
    assert!(conf.contains("location /api/admin {"), "the route still renders");
}
