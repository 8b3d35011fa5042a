//! compose.yaml: the services with replicas, health checks, limits and
//! hardening; PostgreSQL and Redis with their own health checks; the edge
//! as an nginx service using the rendered nginx.conf, the only one that
//! publishes ports. Secrets are compose `secrets:` files, read by the
//! services as `<VAR>_FILE`.

use std::collections::BTreeSet;

use berth_plan::{
    DependencyPlan, EdgePlan, EnvValue, JobPlan, JobTrigger, Plan, PoolerPlan, ProbeCheck, ProbePlan, ServicePlan,
};
use berth_spec::DependencyKind;
use serde_json::{Map, Value, json};

use super::Target;
use super::nginx::{self, Upstreams};
use crate::{Output, header, yaml};

const EDGE_IMAGE: &str = "nginx:1.27-alpine";

/// The spec beside compose.yaml, for the gateway to read.
const GATEWAY_SPEC: &str = "berth.yaml";

/// Services the edge routes to (a split's too): it starts once they are
/// healthy, or started where a service has no check to be healthy by
/// (compose refuses `service_healthy` without a healthcheck); and the
/// fallbacks, once started (nginx resolves every name in its upstreams
/// when it starts).
fn routed(plan: &Plan, edge: &EdgePlan) -> Map<String, Value> {
    let serving: BTreeSet<&str> = edge.routes.iter().flat_map(|r| r.shares().map(|s| s.service)).collect();
    let fallbacks: BTreeSet<&str> =
        edge.routes.iter().filter_map(|r| r.fallback.as_ref().map(|(s, _)| s.as_str())).collect();
    let checked = |name: &str| {
        plan.services
            .iter()
            .find(|s| s.name == name)
            .is_some_and(|s| s.probes.readiness.is_some() || s.probes.liveness.is_some())
    };
    let mut map: Map<String, Value> =
        fallbacks.into_iter().map(|s| (s.to_owned(), json!({ "condition": "service_started" }))).collect();
    for service in serving {
        let condition = if checked(service) { "service_healthy" } else { "service_started" };
        map.insert(service.to_owned(), json!({ "condition": condition }));
    }
    map
}

/// The edge as nginx with the rendered nginx.conf.
fn nginx_service(plan: &Plan, edge: &EdgePlan, out: &mut Output) -> Value {
    let rendered = nginx::render(plan, Upstreams::Network);
    out.diagnostics.extend(rendered.diagnostics);
    for file in rendered.files {
        out.file(format!("nginx/{}", file.path), file.contents);
    }
    let mut ports = vec![json!(format!("{}:{}", edge.listen.http, edge.listen.http))];
    let mut mounts = vec![json!("./nginx/nginx.conf:/etc/nginx/nginx.conf:ro")];
    if edge.tls.is_some() {
        ports.push(json!(format!("{}:{}", edge.listen.https, edge.listen.https)));
        // nginx.conf names tls/fullchain.pem and tls/privkey.pem under /etc/nginx.
        mounts.push(json!("./tls:/etc/nginx/tls:ro"));
        tls_files_note(edge, false, out);
    }
    json!({
        "image": EDGE_IMAGE,
        "restart": "unless-stopped",
        "ports": ports,
        "volumes": mounts,
        "depends_on": routed(plan, edge),
        "networks": ["public", "internal"],
        "healthcheck": { "test": ["CMD", "nginx", "-t", "-q"], "interval": "30s", "timeout": "5s", "retries": 3 },
        "read_only": true,
        "tmpfs": ["/var/cache/nginx", "/var/run", "/var/log/nginx"],
        "security_opt": ["no-new-privileges:true"],
    })
}

/// Where the edge's certificate comes from in the compose project: the
/// `tls/` directory beside compose.yaml, whatever path the spec names on
/// its own host.
fn tls_files_note(edge: &EdgePlan, edge_self_signs: bool, out: &mut Output) {
    if let Some(tls) = &edge.tls
        && !(edge_self_signs && tls.mode == berth_spec::TlsMode::SelfSigned)
    {
        out.unsupported(
            Target::Compose,
            "requesting or reading the edge's certificate from the spec's paths",
            "put the certificate chain and key in `tls/fullchain.pem` and `tls/privkey.pem` beside compose.yaml (certbot or your CA's files)",
        );
    }
}

/// The edge as berth's own (`berth edge`, `targets.compose.gateway`): the
/// spec beside compose.yaml, secrets as compose secrets, services by name.
fn gateway_service(plan: &Plan, edge: &EdgePlan, secrets_used: &mut BTreeSet<String>, out: &mut Output) -> Value {
    let mut command = vec![json!("edge"), json!("/etc/berth/berth.yaml")];
    if let Some(env) = &plan.environment {
        command.extend([json!("--env"), json!(env)]);
    }
    command.extend([json!("--admin"), json!(format!("127.0.0.1:{}", edge.listen.admin))]);
    command.extend([json!("--secrets-dir"), json!("/run/secrets")]);
    let mut ports = vec![json!(format!("{}:{}", edge.listen.http, edge.listen.http))];
    let mut mounts = vec![json!(format!("./{GATEWAY_SPEC}:/etc/berth/berth.yaml:ro"))];
    if let Some(tls) = &edge.tls {
        ports.push(json!(format!("{}:{}", edge.listen.https, edge.listen.https)));
        if tls.mode != berth_spec::TlsMode::SelfSigned {
            mounts.push(json!("./tls:/etc/berth-tls:ro"));
            command.extend([
                json!("--tls-cert"),
                json!("/etc/berth-tls/fullchain.pem"),
                json!("--tls-key"),
                json!("/etc/berth-tls/privkey.pem"),
            ]);
            tls_files_note(edge, true, out);
        }
    }
    if edge.auth.as_ref().and_then(|a| a.jwt.as_ref()).is_some_and(|j| j.public_key.is_some()) {
        out.unsupported(
            Target::Compose,
            "the JWT public key file in the gateway",
            "only berth.yaml is mounted into the edge container; mount the key beside it (under /etc/berth, at its path in the spec)",
        );
    }
    let secrets: Vec<String> =
        plan.secrets.iter().filter(|s| s.used_by.iter().any(|u| u == "edge")).map(|s| s.name.clone()).collect();
    secrets_used.extend(secrets.iter().cloned());
    let mut service = json!({
        "image": crate::BERTH_IMAGE,
        "command": command,
        "restart": "unless-stopped",
        "ports": ports,
        "volumes": mounts,
        "depends_on": routed(plan, edge),
        "networks": ["public", "internal"],
        "healthcheck": {
            "test": ["CMD", "curl", "-fsS", "-o", "/dev/null", "-H", "Host: localhost", format!("http://127.0.0.1:{}/status.json", edge.listen.admin)],
            "interval": "10s", "timeout": "3s", "retries": 3,
        },
        // The edge drains for 25 s after SIGTERM.
        "stop_grace_period": "30s",
        "user": "10001:10001",
        "read_only": true,
        "tmpfs": ["/tmp"],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        // A non-root process binds the spec's ports (80 and 443 by default).
        "sysctls": { "net.ipv4.ip_unprivileged_port_start": 0 },
    });
    if !secrets.is_empty() {
        service["secrets"] = json!(secrets);
    }
    service
}

pub fn render(plan: &Plan, spec_text: &str) -> Output {
    let mut out = Output::default();
    let mut services = Map::new();
    let mut volumes = Map::new();
    let mut secrets_used = BTreeSet::new();
    let mut configs = Map::new();
    for service in &plan.services {
        let mut app = app_service(service, &mut volumes, &mut secrets_used, &mut out);
        files(service, &mut app, &mut configs, &mut out);
        for job in &service.jobs {
            services.insert(job.workload(&service.name), job_service(&app, job));
            if job.trigger == JobTrigger::BeforeDeploy {
                app["depends_on"][job.workload(&service.name)] =
                    json!({ "condition": "service_completed_successfully" });
            }
        }
        services.insert(service.name.clone(), app);
    }
    for dep in &plan.dependencies {
        services.insert(dep.name.clone(), dependency(dep, &mut volumes, &mut secrets_used, &mut configs, &mut out));
        if let Some(p) = &dep.pooler {
            services.insert(p.name.clone(), pooler(dep, p, &mut configs, &mut out));
            for s in plan.services.iter().filter(|s| dep.used_by.contains(&s.name)) {
                if let Some(app) = services.get_mut(&s.name) {
                    app["depends_on"][&p.name] = json!({ "condition": "service_started" });
                }
            }
        }
        if let Some(job) = dep.backup.as_ref().filter(|_| dep.archives_wal()) {
            out.unsupported(
                Target::Compose,
                format!("continuous WAL archiving of `{}` (method: physical, recovery point)", job.name),
                "compose schedules no backups: run them with `berth up`, or render kubernetes or systemd, \
                 which archive WAL and ship it; `method: logical` backs up without it",
            );
        }
    }
    if let Some(edge) = &plan.edge {
        let gateway = plan.targets.compose.as_ref().is_some_and(|c| c.gateway);
        let edge_service = if gateway {
            out.file(GATEWAY_SPEC, spec_text);
            gateway_service(plan, edge, &mut secrets_used, &mut out)
        } else {
            nginx_service(plan, edge, &mut out)
        };
        services.insert("edge".to_owned(), edge_service);
    }
    let secrets: Map<String, Value> =
        secrets_used.iter().map(|s| (s.clone(), json!({ "file": format!("./secrets/{s}") }))).collect();
    let mut doc = Map::new();
    let name = plan.targets.compose.as_ref().and_then(|c| c.project.clone()).unwrap_or_else(|| plan.project.clone());
    doc.insert("name".to_owned(), json!(name));
    doc.insert("services".to_owned(), Value::Object(services));
    if plan.services.iter().any(|s| !s.egress.is_empty()) {
        doc.insert("networks".to_owned(), json!({ "public": {}, "internal": { "internal": true }, "outbound": {} }));
    } else {
        doc.insert("networks".to_owned(), json!({ "public": {}, "internal": { "internal": true } }));
    }
    if !volumes.is_empty() {
        doc.insert("volumes".to_owned(), Value::Object(volumes));
    }
    if !secrets.is_empty() {
        doc.insert("secrets".to_owned(), Value::Object(secrets));
    }
    if !configs.is_empty() {
        doc.insert("configs".to_owned(), Value::Object(configs));
    }
    out.file("compose.yaml", header::comment("#", plan, "compose") + &yaml::to_string(&Value::Object(doc)));
    out
}

/// A service's configuration files: written beside `compose.yaml` under
/// `files/<service>/`, each a compose config mounted read-only at its
/// path. The digest label changes the service's configuration when a file
/// changes, so `docker compose up` recreates it (compose does not compare
/// a config's content on its own). Jobs copy the service, files included.
fn files(s: &ServicePlan, app: &mut Value, configs: &mut Map<String, Value>, out: &mut Output) {
    let Some(digest) = s.files_digest() else { return };
    let mut mounts = Vec::new();
    for f in &s.files {
        let name = format!("{}-{}", s.name, f.key.replace('.', "-"));
        let path = format!("files/{}/{}", s.name, f.key);
        out.file(path.clone(), f.content.clone().unwrap_or_default());
        configs.insert(name.clone(), json!({ "file": format!("./{path}") }));
        mounts.push(json!({ "source": name, "target": f.path, "mode": 0o444 }));
    }
    app["configs"] = Value::Array(mounts);
    app["labels"]["berth.dev/files-sha256"] = json!(digest);
}

/// A job as a compose service: the service's container (image, build,
/// environment, secrets, volumes, hardening) with the job's command as its
/// entrypoint (as Kubernetes' `command`), run once. A gate has no profile,
/// so `docker compose up` runs it before the service that depends on it;
/// the rest are under the `jobs` profile for `docker compose run --rm`.
fn job_service(app: &Value, job: &JobPlan) -> Value {
    let mut svc = app.clone();
    if let Some(map) = svc.as_object_mut() {
        for key in ["healthcheck", "stop_grace_period", "expose"] {
            map.remove(key);
        }
        if let Some(env) = map.get_mut("environment").and_then(Value::as_object_mut) {
            env.remove("PORT");
            env.insert("BERTH_JOB".to_owned(), json!(job.name));
        }
        if let Some(deploy) = map.get_mut("deploy").and_then(Value::as_object_mut) {
            deploy.remove("replicas");
        }
        map.insert("entrypoint".to_owned(), json!(job.command));
        map.insert("restart".to_owned(), json!("no"));
        if job.trigger != JobTrigger::BeforeDeploy {
            map.insert("profiles".to_owned(), json!(["jobs"]));
        }
    }
    svc
}

fn healthcheck(probe: &ProbePlan, start_grace: std::time::Duration) -> Value {
    let test = match &probe.check {
        ProbeCheck::Exec { command } => {
            let mut t = vec![json!("CMD")];
            t.extend(command.iter().map(|c| json!(c)));
            Value::Array(t)
        }
        // Compose has no HTTP check: use whichever client the image ships.
        ProbeCheck::Http { path, port } => json!([
            "CMD-SHELL",
            format!(
                "curl -fsS -o /dev/null http://127.0.0.1:{}{path} || wget -q -O /dev/null http://127.0.0.1:{}{path} || exit 1",
                port.port, port.port
            )
        ]),
        ProbeCheck::Tcp { port } => json!(["CMD-SHELL", format!("nc -z 127.0.0.1 {} || exit 1", port.port)]),
    };
    json!({
        "test": test,
        "interval": probe.interval.to_string(),
        "timeout": probe.timeout.to_string(),
        "retries": probe.failure_threshold,
        // Failures during a slow start (the startup probe's budget) do not count.
        "start_period": berth_spec::model::units::Duration(start_grace).to_string(),
    })
}

fn app_service(
    s: &ServicePlan,
    volumes: &mut Map<String, Value>,
    secrets: &mut BTreeSet<String>,
    out: &mut Output,
) -> Value {
    let mut svc = Map::new();
    match (&s.image, &s.build) {
        (Some(image), _) => {
            svc.insert("image".to_owned(), json!(image));
        }
        (None, None) => out.unsupported(
            Target::Compose,
            format!("service `{}` without `image` or `build`", s.name),
            "compose runs containers; add an image",
        ),
        _ => {}
    }
    if let Some(build) = &s.build {
        let mut b = Map::new();
        b.insert("context".to_owned(), json!(build.context.clone().unwrap_or_else(|| ".".to_owned())));
        if let Some(d) = &build.dockerfile {
            b.insert("dockerfile".to_owned(), json!(d));
        }
        if let Some(t) = &build.target {
            b.insert("target".to_owned(), json!(t));
        }
        if !build.args.is_empty() {
            b.insert("args".to_owned(), json!(build.args));
        }
        svc.insert("build".to_owned(), Value::Object(b));
    }
    svc.insert("restart".to_owned(), json!("unless-stopped"));
    // Every port the spec names, so readers (and `berth check`) know what
    // the container listens on beyond `PORT`: a metrics port is not
    // published, but the network reaches it.
    if !s.ports.is_empty() {
        let mut ports: Vec<u16> = s.ports.iter().map(|p| p.port).collect();
        ports.sort_unstable();
        ports.dedup();
        svc.insert("expose".to_owned(), json!(ports.iter().map(u16::to_string).collect::<Vec<_>>()));
    }
    let mut env = Map::new();
    let mut svc_secrets = Vec::new();
    if let Some(primary) = &s.primary_port {
        env.insert("PORT".to_owned(), json!(primary.port.to_string()));
    }
    for var in &s.env {
        match &var.value {
            EnvValue::Literal { value } => {
                env.insert(var.name.clone(), json!(value));
            }
            EnvValue::Secret { secret } => {
                env.insert(format!("{}_FILE", var.name), json!(format!("/run/secrets/{secret}")));
                svc_secrets.push(secret.clone());
            }
            EnvValue::Dependency { url, password_secret, .. } => {
                env.insert(var.name.clone(), json!(url));
                if let Some(secret) = password_secret {
                    env.insert(format!("{}_PASSWORD_FILE", var.name), json!(format!("/run/secrets/{secret}")));
                    svc_secrets.push(secret.clone());
                }
            }
        }
    }
    if !env.is_empty() {
        svc.insert("environment".to_owned(), Value::Object(env));
    }
    svc_secrets.sort();
    svc_secrets.dedup();
    if !svc_secrets.is_empty() {
        secrets.extend(svc_secrets.iter().cloned());
        svc.insert("secrets".to_owned(), json!(svc_secrets));
    }
    if let Some(probe) = s.probes.readiness.as_ref().or(s.probes.liveness.as_ref()) {
        svc.insert("healthcheck".to_owned(), healthcheck(probe, s.probes.start_grace()));
    }
    let depends: Map<String, Value> =
        s.uses.iter().map(|d| (d.clone(), json!({ "condition": "service_healthy" }))).collect();
    if !depends.is_empty() {
        svc.insert("depends_on".to_owned(), Value::Object(depends));
    }
    let mut deploy = Map::new();
    deploy.insert("replicas".to_owned(), json!(s.replicas.initial()));
    let mut resources = Map::new();
    let limits = amounts(&s.resources.limits);
    if !limits.is_empty() {
        resources.insert("limits".to_owned(), Value::Object(limits));
    }
    let mut reservations = amounts(&s.resources.requests);
    let mut devices: Vec<Value> = s.devices.iter().map(|d| json!(format!("{d}:{d}"))).collect();
    match s.resources.gpu {
        Some(gpu) if gpu.vendor == berth_spec::GpuVendor::Nvidia => {
            reservations.insert(
                "devices".to_owned(),
                json!([{ "driver": "nvidia", "count": gpu.count, "capabilities": ["gpu"] }]),
            );
        }
        // ROCm's device files: compose has no AMD device requests.
        Some(_) => devices.extend(["/dev/kfd:/dev/kfd", "/dev/dri:/dev/dri"].map(|d| json!(d))),
        None => {}
    }
    if !devices.is_empty() {
        svc.insert("devices".to_owned(), Value::Array(devices));
    }
    if !reservations.is_empty() {
        resources.insert("reservations".to_owned(), Value::Object(reservations));
    }
    if !resources.is_empty() {
        deploy.insert("resources".to_owned(), Value::Object(resources));
    }
    svc.insert("deploy".to_owned(), Value::Object(deploy));
    // The same stop budget as every target: the drain, then the stop timeout.
    let stop = s.run.as_ref().map_or(10_000, |r| r.stop_timeout.as_millis()) + s.deploy.drain_timeout.as_millis();
    let stop = if stop.is_multiple_of(1000) { format!("{}s", stop / 1000) } else { format!("{stop}ms") };
    svc.insert("stop_grace_period".to_owned(), json!(stop));
    let mut mounts = Vec::new();
    let mut tmpfs = Vec::new();
    for v in &s.volumes {
        if v.persistent {
            let name = format!("{}-{}", s.name, v.name);
            volumes.insert(name.clone(), json!({}));
            mounts.push(json!(format!("{name}:{}{}", v.path, if v.read_only { ":ro" } else { "" })));
        } else {
            tmpfs.push(json!(v.path));
        }
    }
    if !mounts.is_empty() {
        svc.insert("volumes".to_owned(), Value::Array(mounts));
    }
    if !tmpfs.is_empty() {
        svc.insert("tmpfs".to_owned(), Value::Array(tmpfs));
    }
    let sec = &s.security;
    svc.insert("user".to_owned(), json!(format!("{}:{}", sec.run_as_user, sec.run_as_user)));
    svc.insert("read_only".to_owned(), json!(sec.read_only_root));
    svc.insert("cap_drop".to_owned(), json!(sec.drop_capabilities));
    if !sec.add_capabilities.is_empty() {
        svc.insert("cap_add".to_owned(), json!(sec.add_capabilities));
    }
    svc.insert("security_opt".to_owned(), json!(["no-new-privileges:true"]));
    // `internal` reaches nothing outside; a service with `egress` (accepted
    // as unenforced: compose cannot filter) also joins `outbound`.
    if s.egress.is_empty() {
        svc.insert("networks".to_owned(), json!(["internal"]));
    } else {
        svc.insert("networks".to_owned(), json!(["internal", "outbound"]));
    }
    Value::Object(svc)
}

/// compose's `cpus` and `memory` for an amount of CPU and memory.
fn amounts(a: &berth_spec::Amounts) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(cpu) = a.cpu {
        m.insert("cpus".to_owned(), json!(format!("{}", cpu.cores())));
    }
    if let Some(mem) = a.memory {
        m.insert("memory".to_owned(), json!(format!("{}M", mem.mebibytes())));
    }
    m
}

/// Where the compose pooler reads its configuration and writes its users.
const POOLER_INI: &str = "/etc/pgbouncer/pgbouncer.ini";
const POOLER_USERLIST: &str = "/tmp/userlist.txt";

/// PgBouncer in front of `d`: its `pgbouncer.ini` a read-only config (with
/// its digest as a label, so a changed pool recreates the container); the
/// user list written at start into a tmpfs from the password secret, so
/// the password is in no rendered file.
fn pooler(d: &DependencyPlan, p: &PoolerPlan, configs: &mut Map<String, Value>, out: &mut Output) -> Value {
    let ini = p.ini(d, (&d.name, d.port), ("0.0.0.0", p.port), POOLER_USERLIST);
    let path = format!("files/{}/pgbouncer.ini", p.name);
    configs.insert(p.name.clone(), json!({ "file": format!("./{path}") }));
    let digest = berth_plan::sha256_hex(ini.as_bytes());
    out.file(path, ini);
    let user = format!("'{}'", d.user.clone().unwrap_or_default().replace('\'', "'\\''"));
    let password = match &d.password_secret {
        Some(secret) => format!("\"$(cat /run/secrets/{secret})\""),
        None => "''".to_owned(),
    };
    // compose interpolates `$` itself: `$$` reaches the shell as `$`.
    let start = format!(
        "{} && exec pgbouncer {POOLER_INI}",
        berth_plan::userlist_script(&user, &password, POOLER_USERLIST).replace('$', "$$")
    );
    let mut svc = Map::new();
    svc.insert("image".to_owned(), json!(PoolerPlan::IMAGE));
    svc.insert("entrypoint".to_owned(), json!(["sh", "-c", start]));
    svc.insert("configs".to_owned(), json!([{ "source": p.name, "target": POOLER_INI, "mode": 0o444 }]));
    if let Some(secret) = &d.password_secret {
        svc.insert("secrets".to_owned(), json!([secret]));
    }
    svc.insert("labels".to_owned(), json!({ "berth.dev/config-sha256": digest }));
    svc.insert("depends_on".to_owned(), json!({ d.name.clone(): { "condition": "service_healthy" } }));
    svc.insert("expose".to_owned(), json!([p.port.to_string()]));
    svc.insert("restart".to_owned(), json!("unless-stopped"));
    svc.insert("read_only".to_owned(), json!(true));
    svc.insert("tmpfs".to_owned(), json!(["/tmp"]));
    svc.insert("networks".to_owned(), json!(["internal"]));
    svc.insert("security_opt".to_owned(), json!(["no-new-privileges:true"]));
    svc.insert("cap_drop".to_owned(), json!(["ALL"]));
    let mut resources = Map::new();
    if let Some(l) = &p.resources.limits {
        resources.insert("limits".to_owned(), Value::Object(amounts(l)));
    }
    if let Some(r) = &p.resources.requests {
        resources.insert("reservations".to_owned(), Value::Object(amounts(r)));
    }
    if !resources.is_empty() {
        svc.insert("deploy".to_owned(), json!({ "resources": resources }));
    }
    Value::Object(svc)
}

fn dependency(
    d: &DependencyPlan,
    volumes: &mut Map<String, Value>,
    secrets: &mut BTreeSet<String>,
    configs: &mut Map<String, Value>,
    out: &mut Output,
) -> Value {
    let volume = format!("{}-data", d.name);
    volumes.insert(volume.clone(), json!({}));
    let mut svc = Map::new();
    match d.kind {
        DependencyKind::Postgres => {
            let image = d.image();
            let user = d.user.clone().unwrap_or_default();
            let db = d.database.clone().unwrap_or_default();
            svc.insert("image".to_owned(), json!(image));
            // The image's superuser is `postgres`; the services' role is made
            // by berth's first-start script, without SUPERUSER.
            let mut env = Map::new();
            env.insert("POSTGRES_USER".to_owned(), json!("postgres"));
            env.insert("POSTGRES_DB".to_owned(), json!(db));
            if let Some(secret) = &d.password_secret {
                env.insert("POSTGRES_PASSWORD_FILE".to_owned(), json!(format!("/run/secrets/{secret}")));
                secrets.insert(secret.clone());
                svc.insert("secrets".to_owned(), json!([secret]));
            } else {
                // The spec asks for no password (S104 warns); the image
                // refuses to start without one unless told so.
                env.insert("POSTGRES_HOST_AUTH_METHOD".to_owned(), json!("trust"));
            }
            svc.insert("environment".to_owned(), Value::Object(env));
            if let Some(script) = d.postgres_init_script() {
                let name = format!("{}-init", d.name);
                let path = format!("files/{}/{}", d.name, berth_plan::INIT_SCRIPT);
                configs.insert(name.clone(), json!({ "file": format!("./{path}") }));
                out.file(path, script);
                let target = format!("{}/{}", berth_plan::INITDB_DIR, berth_plan::INIT_SCRIPT);
                svc.insert("configs".to_owned(), json!([{ "source": name, "target": target, "mode": 0o555 }]));
            }
            let mut command = vec![json!("postgres")];
            for (k, v) in &d.server_settings() {
                command.push(json!("-c"));
                command.push(json!(format!("{k}={v}")));
            }
            svc.insert("command".to_owned(), Value::Array(command));
            svc.insert("volumes".to_owned(), json!([format!("{volume}:/var/lib/postgresql/data")]));
            svc.insert("healthcheck".to_owned(), json!({ "test": ["CMD", "pg_isready", "-U", user, "-d", db], "interval": "5s", "timeout": "3s", "retries": 10 }));
            svc.insert("shm_size".to_owned(), json!("256m"));
        }
        DependencyKind::Redis => {
            svc.insert("image".to_owned(), json!(d.image()));
            let mut args = vec!["redis-server".to_owned()];
            args.extend(d.redis_arguments());
            // Redis cannot read its password from a file: the shell does, at start.
            let (command, check) = match &d.password_secret {
                Some(secret) => {
                    secrets.insert(secret.clone());
                    svc.insert("secrets".to_owned(), json!([secret]));
                    (
                        format!("exec {} --requirepass \"$$(cat /run/secrets/{secret})\"", args.join(" ")),
                        format!("REDISCLI_AUTH=\"$$(cat /run/secrets/{secret})\" redis-cli ping | grep -q PONG"),
                    )
                }
                None => (format!("exec {}", args.join(" ")), "redis-cli ping | grep -q PONG".to_owned()),
            };
            svc.insert("command".to_owned(), json!(["sh", "-c", command]));
            svc.insert("volumes".to_owned(), json!([format!("{volume}:/data")]));
            svc.insert(
                "healthcheck".to_owned(),
                json!({ "test": ["CMD-SHELL", check], "interval": "5s", "timeout": "3s", "retries": 10 }),
            );
        }
    }
    svc.insert("restart".to_owned(), json!("unless-stopped"));
    svc.insert("networks".to_owned(), json!(["internal"]));
    svc.insert("security_opt".to_owned(), json!(["no-new-privileges:true"]));
    Value::Object(svc)
}
