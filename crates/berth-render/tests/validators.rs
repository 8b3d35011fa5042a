//! Every target, for every example in every environment, passes its
//! ecosystem's own validator: `docker compose config`, `nginx -t`,
//! `systemd-analyze verify` (any output is a failure), `promtool check` and
//! `promtool test rules`, `amtool check-config`. A missing validator fails
//! the test (see `berth_test_support::tool`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use std::path::Path;
use std::sync::OnceLock;

use berth_render::{File, Target};
use berth_test_support::{Run, TempDir, compose_binary, example_environments, run, temp_dir, tool, typescript};

fn write(dir: &Path, files: &[File]) {
    for f in files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &f.contents).unwrap();
    }
}

fn expect_ok(what: &str, result: &Run, quiet: bool) {
    let noisy = quiet && !(result.stdout.trim().is_empty() && result.stderr.trim().is_empty());
    assert!(result.success && !noisy, "{what} failed:\nstdout:\n{}\nstderr:\n{}", result.stdout, result.stderr);
}

/// A self-signed certificate at the paths the rendered nginx.conf names.
fn certificate(dir: &Path) {
    std::fs::create_dir_all(dir.join("tls")).unwrap();
    berth_test_support::self_signed_certificate(dir, "tls/fullchain.pem", "tls/privkey.pem");
}

fn check_nginx(dir: &Path, label: &str) {
    std::fs::copy("/etc/nginx/mime.types", dir.join("mime.types")).expect("nginx's mime.types (install nginx)");
    certificate(dir);
    let prefix = format!("{}/", dir.display());
    let error_log = dir.join("error.log");
    let conf = dir.join("nginx.conf");
    let result = run(
        &tool("nginx"),
        &["-t", "-q", "-p", &prefix, "-e", &error_log.to_string_lossy(), "-c", &conf.to_string_lossy()],
        dir,
    );
    expect_ok(&format!("nginx -t ({label})"), &result, true);
}

/// The distribution's units, copied once: `verify --root` needs sysinit.target and friends.
fn systemd_units() -> &'static Path {
    static ROOT: OnceLock<TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = temp_dir();
        let result = run(
            &tool("cp"),
            &["-a", "/usr/lib/systemd/system", &root.path().join("units").to_string_lossy()],
            root.path(),
        );
        expect_ok("copy /usr/lib/systemd/system", &result, false);
        root
    })
    .path()
}

fn check_systemd(files: &[File], label: &str) {
    let root = temp_dir();
    let r = root.path();
    std::fs::create_dir_all(r.join("usr/lib/systemd")).unwrap();
    let result = run(
        &tool("cp"),
        &["-a", &systemd_units().join("units").to_string_lossy(), &r.join("usr/lib/systemd/system").to_string_lossy()],
        r,
    );
    expect_ok("copy units", &result, false);
    let units_dir = r.join("etc/systemd/system");
    std::fs::create_dir_all(&units_dir).unwrap();
    let mut names = Vec::new();
    let is_unit = |p: &str| [".service", ".timer", ".target"].iter().any(|e| p.ends_with(e));
    for f in files.iter().filter(|f| !f.path.contains('/') && is_unit(&f.path)) {
        std::fs::write(units_dir.join(&f.path), &f.contents).unwrap();
        // The programs the units start are what an install puts in place.
        for line in f.contents.lines().filter_map(|l| l.strip_prefix("ExecStart=")) {
            let program = r.join(line.split_whitespace().next().unwrap().trim_start_matches('/'));
            std::fs::create_dir_all(program.parent().unwrap()).unwrap();
            std::fs::write(&program, "#!/bin/sh\n").unwrap();
            run(&tool("chmod"), &["+x", &program.to_string_lossy()], r);
        }
        names.push(f.path.replace("@.service", "@0.service"));
    }
    let root_arg = format!("--root={}", r.display());
    let mut args = vec!["verify", root_arg.as_str()];
    args.extend(names.iter().map(String::as_str));
    let result = run(&tool("systemd-analyze"), &args, &units_dir);
    expect_ok(&format!("systemd-analyze verify ({label})"), &result, true);
    check_host(files, label);
}

/// The host files of `targets.systemd.host`: the firewall by `nft -c`,
/// every sysctl key against the running kernel's, the apt settings by
/// `apt-config`. (The fail2ban jail is checked against a real nginx log in
/// berth-edge's differential_features.rs.)
fn check_host(files: &[File], label: &str) {
    let host: Vec<&File> = files.iter().filter(|f| f.path.starts_with("host/")).collect();
    if host.is_empty() {
        return;
    }
    let dir = temp_dir();
    write(dir.path(), files);
    let nft = dir.path().join("host/nftables.conf");
    let result = run(&tool("nft"), &["-c", "-f", &nft.to_string_lossy()], dir.path());
    expect_ok(&format!("nft -c ({label})"), &result, true);
    let mut keys = 0;
    for f in host.iter().filter(|f| f.path.starts_with("host/sysctl.d/")) {
        for line in f.contents.lines().filter(|l| !l.starts_with('#') && l.contains('=')) {
            let key = line.split('=').next().unwrap().trim();
            let proc = Path::new("/proc/sys").join(key.replace('.', "/"));
            assert!(proc.exists(), "{label}: the kernel has no sysctl `{key}` ({})", f.path);
            keys += 1;
        }
    }
    assert!(keys > 10, "{label}: {keys} sysctl settings");
    for f in host.iter().filter(|f| f.path.starts_with("host/apt/")) {
        let path = dir.path().join(&f.path);
        let result = run(&tool("apt-config"), &["-c", &path.to_string_lossy(), "dump"], dir.path());
        assert!(result.success && result.stderr.trim().is_empty(), "apt-config ({label}): {}", result.stderr);
        assert!(result.stdout.contains("APT::Periodic::Unattended-Upgrade \"1\""), "{}", result.stdout);
    }
    assert!(host.iter().any(|f| f.path.starts_with("host/fail2ban/jail.d/")), "{label}: no jail");
}

/// The botocore parameter validator script next to this test.
fn ecs_script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validators/ecs_params.py").display().to_string()
}

/// Checks Knative Services twice: the CRD's JSON schema (ajv, through
/// @kubernetes-models/knative) and the model's TypeScript types with
/// `tsc --strict`, which also rejects unknown fields.
fn check_knative(dir: &Path, files: &[File], label: &str) {
    let mut json_files = Vec::new();
    let mut source =
        String::from("import type { IService } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';\n");
    for (i, f) in files.iter().enumerate() {
        let value: serde_json::Value = serde_saphyr::from_str(&f.contents).unwrap();
        let json = serde_json::to_string_pretty(&value).unwrap();
        let path = format!("service{i}.json");
        std::fs::write(dir.join(&path), &json).unwrap();
        json_files.push(path);
        source.push_str(&format!("export const s{i}: IService = {json};\n"));
    }
    let args: Vec<&str> = json_files.iter().map(String::as_str).collect();
    expect_ok(&format!("Knative schema ({label})"), &node_script(dir, "knative.mjs", &args), true);
    expect_ok(&format!("tsc against @kubernetes-models/knative ({label})"), &tsc(dir, &source), true);
}

/// `tsc --strict --noEmit` on one TypeScript source, with node_modules linked into `dir`.
fn tsc(dir: &Path, source: &str) -> Run {
    let (tsc, modules) = typescript();
    if !dir.join("node_modules").exists() {
        std::os::unix::fs::symlink(&modules, dir.join("node_modules")).unwrap();
    }
    std::fs::write(dir.join("check.ts"), source).unwrap();
    let args = [
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        "--target",
        "es2022",
        "check.ts",
    ];
    run(&tsc, &args, dir)
}

/// Runs one of the Node validator scripts next to this test in `dir`.
fn node_script(dir: &Path, script: &str, args: &[&str]) -> Run {
    let (_, modules) = typescript();
    if !dir.join("node_modules").exists() {
        std::os::unix::fs::symlink(&modules, dir.join("node_modules")).unwrap();
    }
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validators").join(script), dir.join(script))
        .unwrap();
    let mut all = vec![script];
    all.extend(args);
    run(&tool("node"), &all, dir)
}

/// Type-checks dashboard JSON texts against `@grafana/schema`'s `Dashboard`
/// with `tsc --strict`.
fn tsc_dashboards(dir: &Path, dashboards: &[&str]) -> Run {
    let mut source = String::from(
        "import type { Dashboard } from '@grafana/schema';
",
    );
    for (i, d) in dashboards.iter().enumerate() {
        source.push_str(&format!(
            "export const d{i}: Dashboard = {d};
"
        ));
    }
    tsc(dir, &source)
}

fn validate(target: Target, files: &[File], label: &str) {
    let dir = temp_dir();
    let d = dir.path();
    write(d, files);
    match target {
        Target::Compose => {
            // The embedded nginx.conf names services by their compose host
            // names, which only resolve inside compose; the nginx target
            // (same code, loopback upstreams) is what `nginx -t` checks.
            let result = run(&compose_binary(), &["-f", "compose.yaml", "config", "-q"], d);
            expect_ok(&format!("docker compose config ({label})"), &result, true);
        }
        Target::Kubernetes => {
            // Typed objects against the API's own schemas, oldest and newest supported
            // versions. The kustomization and Prometheus Operator CRDs have no bundled schema.
            let manifests: Vec<&str> = files
                .iter()
                .map(|f| f.path.as_str())
                .filter(|p| p.ends_with(".yaml") && *p != "kustomization.yaml" && !p.starts_with("monitoring/"))
                .collect();
            assert!(manifests.len() >= 2, "{label}: expected manifests, got {manifests:?}");
            for version in ["1.30", "1.37"] {
                let mut args = vec!["--strict", "--quiet", "-k", version];
                args.extend(&manifests);
                let result = run(&tool("kubernetes-validate"), &args, d);
                expect_ok(&format!("kubernetes-validate --strict -k {version} ({label})"), &result, true);
            }
        }
        Target::Ecs => {
            let mut args = vec![ecs_script()];
            for f in files {
                let operation =
                    if f.path.ends_with("-task-definition.json") { "RegisterTaskDefinition" } else { "CreateService" };
                args.push(operation.to_owned());
                args.push(f.path.clone());
            }
            if args.len() > 1 {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                expect_ok(&format!("botocore ParamValidator ({label})"), &run(&tool("python3"), &args, d), true);
            }
        }
        Target::Helm => {
            let helm = tool("helm");
            expect_ok(&format!("helm lint --strict ({label})"), &run(&helm, &["lint", "--strict", "chart/"], d), false);
            let rendered = run(&helm, &["template", "release", "chart/", "--namespace", "shop"], d);
            expect_ok(&format!("helm template ({label})"), &rendered, false);
            std::fs::write(d.join("rendered.yaml"), &rendered.stdout).unwrap();
            let validated =
                run(&tool("kubernetes-validate"), &["--strict", "--quiet", "-k", "1.33", "rendered.yaml"], d);
            // The Prometheus Operator's CRD has no bundled schema; anything else must be silent.
            let unexpected: Vec<&str> = validated
                .stdout
                .lines()
                .chain(validated.stderr.lines())
                .filter(|l| !l.contains("kind ServiceMonitor"))
                .collect();
            assert!(
                validated.success && unexpected.is_empty(),
                "helm template | kubernetes-validate ({label}):\n{}",
                unexpected.join("\n")
            );
            // Values reach the objects: a new tag changes every image of that service.
            if let Some(service) =
                files.iter().find_map(|f| f.path.strip_prefix("chart/templates/service-")?.strip_suffix(".yaml"))
            {
                let set = format!("services.{service}.image.tag=9.9.9-test");
                let overridden = run(&helm, &["template", "release", "chart/", "--set", &set], d);
                assert!(overridden.stdout.contains(":9.9.9-test\""), "{label}: --set {set} did not reach the image");
            }
        }
        Target::Cloudrun => {
            if !files.is_empty() {
                check_knative(d, files, label);
            }
        }
        Target::Runbook => {
            // Line length is the one rule off: tables and commands are as long as they are.
            let markdownlint = typescript().1.join(".bin/markdownlint");
            expect_ok(
                &format!("markdownlint ({label})"),
                &run(&markdownlint, &["--disable", "MD013", "--", "RUNBOOK.md"], d),
                true,
            );
        }
        Target::Diagram => {
            expect_ok(&format!("mermaid.parse ({label})"), &node_script(d, "mermaid.mjs", &["diagram.mmd"]), true);
            expect_ok(&format!("xmllint ({label})"), &run(&tool("xmllint"), &["--noout", "diagram.svg"], d), true);
        }
        Target::Cloudformation => {
            // Exit bits: 2 error, 4 warning, 8 informational; any of them fails.
            expect_ok(&format!("cfn-lint ({label})"), &run(&tool("cfn-lint"), &["template.yaml"], d), true);
        }
        Target::Nginx => {
            if !files.is_empty() {
                check_nginx(d, label);
            }
        }
        Target::Systemd => check_systemd(files, label),
        Target::Grafana => {
            let dashboards: Vec<&str> =
                files.iter().filter(|f| f.path.ends_with(".json")).map(|f| f.contents.as_str()).collect();
            if !dashboards.is_empty() {
                expect_ok(&format!("tsc against @grafana/schema ({label})"), &tsc_dashboards(d, &dashboards), true);
            }
        }
        Target::Prometheus => {
            if files.is_empty() {
                return;
            }
            let promtool = tool("promtool");
            expect_ok(
                &format!("promtool check config ({label})"),
                &run(&promtool, &["check", "config", "prometheus.yml"], d),
                false,
            );
            expect_ok(
                &format!("promtool check rules ({label})"),
                &run(&promtool, &["check", "rules", "rules.yml"], d),
                false,
            );
            expect_ok(
                &format!("promtool test rules ({label})"),
                &run(&promtool, &["test", "rules", "rules.test.yml"], d),
                false,
            );
        }
        Target::Alertmanager => {
            if !files.is_empty() {
                expect_ok(
                    &format!("amtool check-config ({label})"),
                    &run(&tool("amtool"), &["check-config", "alertmanager.yml"], d),
                    false,
                );
            }
        }
    }
}

/// The examples, then `tests/validators/corners.yaml`: specs that reach
/// what the examples do not, each of which once rendered a rejected file.
fn specs() -> Vec<(String, String, Vec<Option<String>>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validators/corners.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut envs = vec![None];
    envs.extend(berth_spec::environments(&text).into_iter().map(Some));
    let mut all = example_environments();
    all.push(("corners".to_owned(), text, envs));
    all
}

#[test]
fn every_target_passes_its_validator() {
    let mut checked = 0;
    for (name, text, envs) in specs() {
        for env in envs {
            let spec = berth_spec::load(&text, env.as_deref()).spec.unwrap();
            let mut plan = berth_plan::build(&spec, env.as_deref());
            assert!(plan.read_files(berth_test_support::example_file(&name)).is_empty(), "{name}: files");
            for &target in Target::ALL {
                let label = format!("{name} {} {}", env.as_deref().unwrap_or("base"), target.name());
                validate(target, &target.render(&plan, &text).files, &label);
                checked += 1;
            }
        }
    }
    assert!(checked >= 5 * 5, "only {checked} renders were validated");
}

/// The corners spec reaches its corners rather than rendering around them:
/// the latency test runs past the old 60 s bucket, the webhook whose URL is
/// a secret is refused by name (never written, inline or as a `url_file`
/// Alertmanager 0.25 rejects), and the runbook escapes what would be Markdown.
#[test]
fn the_corners_spec_reaches_its_corners() {
    let (_, text, _) = specs().pop().unwrap();
    let spec = berth_spec::load(&text, None).spec.unwrap();
    let plan = berth_plan::build(&spec, None);
    let file = |out: &berth_render::Output, path: &str| {
        out.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no {path}")).contents.clone()
    };

    let prometheus = Target::Prometheus.render(&plan, &text);
    assert!(file(&prometheus, "rules.yml").contains("> 120"), "the 2m latency threshold");
    assert!(file(&prometheus, "rules.test.yml").contains("name: WebHighLatency fires"));

    let alertmanager = Target::Alertmanager.render(&plan, &text);
    let config = file(&alertmanager, "alertmanager.yml");
    assert!(!config.contains("hook-url"), "{config}");
    assert!(config.contains("url: https://pager.example.com/hooks/berth"), "{config}");
    let refused = alertmanager
        .diagnostics
        .iter()
        .find(|d| d.code.id == "R001" && d.message.contains("secret `hook-url`"))
        .expect("the secret webhook is refused, not dropped silently");
    let help = refused.help.as_deref().unwrap_or_default();
    assert!(help.contains("0.26") && help.contains("url_file"), "{help}");

    let runbook = file(&Target::Runbook.render(&plan, &text), "RUNBOOK.md");
    assert!(runbook.contains("| worker | 1 | none | none |"), "{runbook}");
    assert!(runbook.contains("The edge answers for `www.example.com`, `example.com`"), "{runbook}");
    assert!(runbook.contains("See <https://wiki.example.com/runbooks/checkout_(slow)> first"), "{runbook}");
}

/// The systemd target's `conf.d` file for the host's PostgreSQL, read back
/// by a real `postgres -C`: every setting parses, and means what the plan
/// (shared with `berth up` and Kubernetes) says. A broken file must fail.
#[test]
fn postgresql_reads_the_archiving_conf_back() {
    let dir = temp_dir();
    let d = dir.path();
    let data = d.join("data");
    std::fs::create_dir(&data).unwrap();
    run(&tool("chmod"), &["755", &d.to_string_lossy()], d);
    if run(&tool("id"), &["-u"], d).stdout.trim() == "0" {
        expect_ok("chown", &run(&tool("chown"), &["postgres", &data.to_string_lossy()], d), false);
    }
    let postgres = berth_test_support::postgres_program("postgres");
    let setting = |conf: &str, key: &str| {
        let file = d.join("archiving.conf");
        std::fs::write(&file, conf).unwrap();
        run(&tool("chmod"), &["644", &file.to_string_lossy()], d);
        let config = format!("config_file={}", file.display());
        let out = berth_test_support::run_as_postgres(
            &postgres,
            &["-D", &data.to_string_lossy(), "-c", &config, "-C", key],
            d,
        );
        out.success.then(|| out.stdout.trim_end_matches('\n').to_owned()).ok_or(out.stderr)
    };
    let mut checked = 0;
    for (name, text, envs) in example_environments() {
        for env in envs {
            let mut plan = berth_plan::build(&berth_spec::load(&text, env.as_deref()).spec.unwrap(), env.as_deref());
            assert!(plan.read_files(berth_test_support::example_file(&name)).is_empty(), "{name}: files");
            let files = Target::Systemd.render(&plan, &text).files;
            for dep in plan.dependencies.iter().filter(|dep| dep.archives_wal()) {
                let path = format!("postgresql/{}-archiving.conf", dep.name);
                let conf =
                    &files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{name}: no {path}")).contents;
                let spool = format!("/var/lib/{}/wal-spool/{}", plan.project, dep.name);
                for (key, value) in dep.wal_archiving(&spool) {
                    assert_eq!(setting(conf, &key).unwrap_or_else(|e| panic!("{name} {path}: {e}")), value, "{key}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 4, "only {checked} settings were read back");
    let broken = setting("archive_mode = 'sometimes'\n", "archive_mode").expect_err("postgres must reject a bad value");
    assert!(broken.contains("archive_mode"), "{broken}");
}

/// The validators must be able to fail, or passing proves nothing.
#[test]
fn validators_reject_broken_files() {
    let broken_nginx = [File {
        path: "nginx.conf".into(),
        contents: "events {}\nhttp { server { listen 80; locaton / { } } }\n".into(),
    }];
    let dir = temp_dir();
    write(dir.path(), &broken_nginx);
    std::fs::copy("/etc/nginx/mime.types", dir.path().join("mime.types")).unwrap();
    let prefix = format!("{}/", dir.path().display());
    let conf = dir.path().join("nginx.conf");
    let result =
        run(&tool("nginx"), &["-t", "-q", "-p", &prefix, "-e", "/dev/null", "-c", &conf.to_string_lossy()], dir.path());
    assert!(!result.success, "nginx -t accepted a misspelled directive");

    let unit =
        [File { path: "x.service".into(), contents: "[Service]\nExecStart=/bin/true\nNoNewPrivilegez=yes\n".into() }];
    let root = temp_dir();
    write(root.path(), &unit);
    let result = run(&tool("systemd-analyze"), &["verify", "./x.service"], root.path());
    assert!(
        !(result.stdout.trim().is_empty() && result.stderr.trim().is_empty()),
        "systemd-analyze said nothing about an unknown key"
    );

    let dir = temp_dir();
    write(
        dir.path(),
        &[File { path: "compose.yaml".into(), contents: "services:\n  web:\n    image: x\n    replicass: 2\n".into() }],
    );
    assert!(
        !run(&compose_binary(), &["-f", "compose.yaml", "config", "-q"], dir.path()).success,
        "compose accepted an unknown key"
    );
}

/// The systemd timers of scheduled jobs fire exactly when cron (and
/// `berth up`, and Kubernetes) would: for each schedule, the next 40
/// elapses `systemd-analyze calendar` computes from the rendered
/// `OnCalendar=` lines equal the minutes `Schedule::matches` selects.
#[test]
fn systemd_timers_fire_when_cron_would() {
    let crons = [
        "0 3 * * *",
        "*/15 1-5 * * 1-5",
        "5/20 */3 * * *",
        "0 0 * * */2",
        "0 12 1-7 * 0",
        "0 0 1 * 1",
        "30 2 29 2 *",
        "0 0 * * 7",
        "10,40 8-18/5 1,15 1-6 *",
        "@weekly",
        "@monthly",
        "@hourly",
    ];
    let mut jobs = String::new();
    for (i, cron) in crons.iter().enumerate() {
        jobs.push_str(&format!("      j{i}: {{ command: [./job], schedule: \"{cron}\" }}\n"));
    }
    let text = format!(
        "version: 1\nname: cal\nservices:\n  web:\n    run: {{ command: [./web] }}\n    replicas: 1\n    jobs:\n{jobs}"
    );
    let loaded = berth_spec::load(&text, None);
    let spec = loaded.spec.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let plan = berth_plan::build(&spec, None);
    let out = Target::Systemd.render(&plan, &text);
    let base: jiff::Timestamp = "2026-11-28T00:00:00Z".parse().unwrap();
    for (i, cron) in crons.iter().enumerate() {
        let timer = out.files.iter().find(|f| f.path == format!("cal-web-j{i}.timer")).expect("a timer per job");
        let events: Vec<&str> = timer.contents.lines().filter_map(|l| l.strip_prefix("OnCalendar=")).collect();
        assert!(!events.is_empty(), "{}", timer.contents);
        // systemd's own next elapses of each event, merged.
        let mut fired = std::collections::BTreeSet::new();
        for event in &events {
            let result = run(
                &tool("systemd-analyze"),
                &["calendar", "--iterations=40", "--base-time=2026-11-28 00:00:00 UTC", event],
                Path::new("."),
            );
            expect_ok(&format!("systemd-analyze calendar {event}"), &result, false);
            for line in result.stdout.lines() {
                let Some((_, at)) = line.split_once(": ").filter(|(k, _)| k.contains("elapse") || k.contains("Iter."))
                else {
                    continue;
                };
                // `Sat 2026-11-28 03:00:00 UTC`
                let stamp = at.split_whitespace().skip(1).take(2).collect::<Vec<_>>().join("T");
                fired.insert(format!("{stamp}Z").parse::<jiff::Timestamp>().unwrap());
            }
        }
        let end = base + jiff::SignedDuration::from_hours(24 * 366 * 3);
        let systemd: Vec<_> = fired.into_iter().filter(|t| *t < end).take(40).collect();
        // Cron's, minute by minute.
        let schedule = berth_spec::model::units::Schedule::parse(cron).unwrap();
        let mut expected = Vec::new();
        let mut t = base.to_zoned(jiff::tz::TimeZone::UTC);
        while expected.len() < 40 && t.timestamp() < end {
            let weekday = u32::from(t.weekday().to_sunday_zero_offset().unsigned_abs());
            let [minute, hour, day, month] =
                [t.minute(), t.hour(), t.day(), t.month()].map(|v| v.unsigned_abs() as u32);
            if t.timestamp() > base && schedule.matches(minute, hour, day, month, weekday) {
                expected.push(t.timestamp());
            }
            t = t.checked_add(jiff::Span::new().minutes(1)).unwrap();
        }
        assert!(!systemd.is_empty(), "{cron}: systemd gave nothing");
        assert_eq!(systemd, expected, "{cron} as {events:?}");
    }
}
