//! The plan of every example in every environment, snapshotted as YAML, and
//! proven deterministic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use berth_test_support::example_specs;

fn plan_yaml(text: &str, env: Option<&str>) -> String {
    let loaded = berth_spec::load(text, env);
    let spec = loaded.spec.unwrap_or_else(|| panic!("spec has errors: {:?}", loaded.diagnostics));
    serde_saphyr::to_string(&berth_plan::build(&spec, env)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn plans_of_every_example_and_environment() {
    for (name, path) in example_specs() {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut envs: Vec<Option<String>> = vec![None];
        envs.extend(berth_spec::environments(&text).into_iter().map(Some));
        for env in envs {
            let yaml = plan_yaml(&text, env.as_deref());
            assert_eq!(yaml, plan_yaml(&text, env.as_deref()), "{name}: the plan must be deterministic");
            let snapshot = format!("{name}-{}", env.as_deref().unwrap_or("base"));
            insta::assert_snapshot!(snapshot, yaml);
        }
    }
}

fn example(name: &str, env: Option<&str>) -> berth_plan::Plan {
    let path = berth_test_support::workspace_root().join(format!("examples/{name}/berth.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = berth_spec::load(&text, env).spec.unwrap_or_else(|| panic!("{name} has errors"));
    berth_plan::build(&spec, env)
}

#[test]
fn dependency_urls_are_wired_without_passwords() {
    let plan = example("web-api", None);
    let api = plan.services.iter().find(|s| s.name == "api").unwrap_or_else(|| panic!("no api"));
    let db_url = api.env.iter().find(|e| e.name == "DATABASE_URL").unwrap_or_else(|| panic!("no DATABASE_URL"));
    assert_eq!(
        db_url.value,
        berth_plan::EnvValue::Dependency {
            dependency: "db".into(),
            url: "postgres://shop@db:5432/db".into(),
            password_secret: Some("db-password".into()),
            pooled: false,
        }
    );
    assert!(api.env.iter().any(|e| e.name == "REDIS_URL"));
    // Alerts are only planned on metrics some scrape target exports.
    assert!(plan.monitoring.alerts.iter().any(|a| a.name == "ApiHighErrorRate"));
    assert!(plan.monitoring.alerts.iter().any(|a| a.name == "DbDown" && a.expr.contains("pg_up")));
    assert_eq!(plan.backups.len(), 2);
    let method = |dep: &str| plan.backups.iter().find(|b| b.name == dep).map(|b| b.method);
    assert_eq!(method("db"), Some(berth_spec::BackupMethod::Physical));
    assert_eq!(method("cache"), Some(berth_spec::BackupMethod::Snapshot));
    // Longest prefix first, so the first matching route is the right one.
    let paths: Vec<&str> = plan.edge.iter().flat_map(|e| e.routes.iter().map(|r| r.path.as_str())).collect();
    assert_eq!(paths, ["/api/login", "/api/admin", "/metrics", "/api", "/ws"]);
}

#[test]
fn overlays_change_the_plan() {
    let dev = example("multi-env", Some("development"));
    let prod = example("multi-env", Some("production"));
    assert_eq!(dev.services[0].replicas.initial(), 1);
    assert_eq!(prod.services[0].replicas.initial(), 3);
    assert!(!dev.monitoring.enabled && dev.monitoring.alerts.is_empty());
    assert!(dev.backups.is_empty());
    assert_eq!(prod.services[0].deploy.strategy, berth_spec::Strategy::Canary);
}

#[test]
fn extensions_that_need_preloading_are_preloaded() {
    let text = "version: 1\nname: x\nservices:\n  web: { image: ghcr.io/a/w:1.0.0, ports: { http: 8080 }, uses: [db] }\nsecrets:\n  pw: {}\ndependencies:\n  db:\n    kind: postgres\n    version: \"16\"\n    password: { secret: pw }\n    extensions: [pg_stat_statements, pgcrypto, citus]\n    settings: { shared_preload_libraries: auto_explain }\n";
    let loaded = berth_spec::load(text, None);
    let plan = berth_plan::build(&loaded.spec.expect("a valid spec"), None);
    let settings = plan.dependencies[0].server_settings();
    // The spec's own libraries stay; citus first; pgcrypto needs no preload.
    assert_eq!(settings["shared_preload_libraries"], "citus,auto_explain,pg_stat_statements");
}
