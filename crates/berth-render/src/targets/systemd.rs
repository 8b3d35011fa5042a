//! systemd units for running the services on a host: one hardened template
//! per service (`<project>-<service>@<replica>.service`), a target that
//! starts every replica, per-replica environment files (ports and plain
//! settings only), a sysusers.d entry for the service user, and a
//! service/timer pair per backup that calls `berth backup` then
//! `berth backup verify`, and for physical backups a WAL shipper unit plus
//! the PostgreSQL settings that archive into its spool. Secrets arrive
//! through `LoadCredential=`; object storage credentials through
//! `/etc/<project>/backup.env`.

use std::fmt::Write as _;

use berth_plan::{BackupJob, BackupSubject, EnvValue, JobPlan, Plan, RunPlan, ServicePlan, replica_port};
use berth_spec::model::units::Schedule;

use super::{Target, scheduled};
use crate::{Output, header};

/// The sandbox every backup-side unit (backup, WAL shipper, exporter)
/// runs in: they talk to the network and a few paths, nothing else.
const HARDENING: &str = "NoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\nPrivateDevices=yes\nProtectKernelTunables=yes\nProtectKernelModules=yes\nProtectControlGroups=yes\nRestrictSUIDSGID=yes\nLockPersonality=yes\nSystemCallArchitectures=native\nUMask=0077\n";

/// Where the operator puts secret files for `LoadCredential=` (mode 0600).
fn credential_path(plan: &Plan, secret: &str) -> String {
    format!("/etc/{}/credentials/{secret}", plan.project)
}

pub fn unit_name(plan: &Plan, service: &str) -> String {
    format!("{}-{service}", plan.project)
}

pub fn render(plan: &Plan) -> Output {
    let mut out = Output::default();
    let user = plan.targets.systemd.as_ref().and_then(|s| s.user.clone()).unwrap_or_else(|| plan.project.clone());
    let install = plan
        .targets
        .systemd
        .as_ref()
        .and_then(|s| s.install_dir.clone())
        .unwrap_or_else(|| format!("/opt/{}", plan.project));
    let mut wants = Vec::new();
    for service in &plan.services {
        let Some(run) = &service.run else {
            out.unsupported(
                Target::Systemd,
                format!("service `{}` without a `run` command", service.name),
                "systemd runs plain processes; add `run: { command: [...] }`",
            );
            continue;
        };
        let name = unit_name(plan, &service.name);
        // `systemctl stop` sends SIGTERM at once (nginx in front keeps no
        // drain of its own), so the process drains and then stops within
        // one budget, as on Kubernetes and compose.
        let stop =
            berth_spec::model::units::Duration(run.stop_timeout.0.saturating_add(service.deploy.drain_timeout.0));
        out.file(
            format!("{name}@.service"),
            template(plan, service, None, &run.command, run.workdir.as_deref(), stop.ceil_secs(), &user, &install),
        );
        wants.extend(jobs(plan, service, run, &user, &install, &mut out));
        if let Some(cpu) = service.resources.limits.cpu {
            let quota = cpu_quota(cpu);
            if quota * 10 != cpu.0 {
                out.unsupported(
                    Target::Systemd,
                    format!(
                        "the CPU limit {cpu} of `{}` exactly (systemd's `CPUQuota=` counts whole percent of a core; \
                         rendered {quota}%)",
                        service.name
                    ),
                    if cpu.0 < 10 {
                        "1% of a core is the least systemd can give; raise the limit to `10m`"
                    } else {
                        "write the limit in tens of millicores, such as `250m`; it is rounded down"
                    },
                );
            }
        }
        // Exactly the replicas the spec asks for: with `replicas: 0` the
        // template is installed and no instance is started.
        for f in &service.files {
            out.file(format!("files/{}/{}", service.name, f.key), f.content.clone().unwrap_or_default());
        }
        for i in 0..service.replicas.initial() {
            wants.push(format!("{name}@{i}.service"));
            out.file(format!("env/{}-{i}.env", service.name), replica_env(plan, service, i));
        }
    }
    for job in &plan.backups {
        let name = format!("{}-backup-{}", plan.project, job.name);
        out.file(format!("{name}.service"), backup_service(plan, job, &user));
        out.file(format!("{name}.timer"), backup_timer(plan, job));
        wants.push(format!("{name}.timer"));
    }
    if !plan.backups.is_empty() && plan.monitoring.enabled {
        let name = format!("{}-backup-exporter", plan.project);
        out.file(format!("{name}.service"), exporter_service(plan, &user));
        wants.push(format!("{name}.service"));
    }
    for dep in &plan.dependencies {
        let spool = wal_spool(plan, &dep.name);
        let archiving = dep.wal_archiving(&spool);
        let Some(job) = dep.backup.as_ref().filter(|_| !archiving.is_empty()) else { continue };
        let name = format!("{}-wal-ship-{}", plan.project, dep.name);
        out.file(format!("{name}.service"), wal_ship_service(plan, job, &spool));
        out.file(format!("postgresql/{}-archiving.conf", dep.name), archiving_conf(plan, &name, &archiving));
        wants.push(format!("{name}.service"));
    }
    let mut target = header::comment("#", plan, "systemd");
    let _ = write!(
        target,
        "[Unit]\nDescription={} (every replica and backup timer)\nWants={}\n\n[Install]\nWantedBy=multi-user.target\n",
        plan.project,
        wants.join(" ")
    );
    out.file(format!("{}.target", plan.project), target);
    out.file("INSTALL.md", install_notes(plan, &user, &install));
    if let Some(host) = plan.targets.systemd.as_ref().and_then(|s| s.host.as_ref()) {
        super::host::render(plan, host, &mut out);
    }
    out.file(
        format!("sysusers.d/{}.conf", plan.project),
        format!(
            "{}u {user} - \"{} services\" /var/lib/{}\n",
            header::comment("#", plan, "systemd"),
            plan.project,
            plan.project
        ),
    );
    out
}

/// The program as `berth up` finds it: a relative path (`./api`,
/// `bin/api`) starts in the service's working directory (the install
/// directory, or `run.workdir` under it), a bare name (`gunicorn`) is looked
/// up on systemd's executable search path, as on PATH.
fn program(workdir: &str, command: &[String]) -> String {
    let mut parts: Vec<String> = command.iter().map(|a| quote(a)).collect();
    if let Some(first) = parts.first_mut()
        && !first.starts_with('/')
        && first.contains('/')
    {
        *first = format!("{workdir}/{}", first.trim_start_matches("./"));
    }
    parts.join(" ")
}

/// Quotes an argument for ExecStart when it has spaces or quotes.
fn quote(arg: &str) -> String {
    if arg.is_empty() || arg.contains([' ', '"', '\'', '\\', ';']) {
        format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        arg.to_owned()
    }
}

/// A replica's unit template (`job: None`) or a job's oneshot unit.
#[allow(clippy::too_many_arguments, reason = "one unit writer for replicas and jobs")]
fn template(
    plan: &Plan,
    service: &ServicePlan,
    job: Option<&JobPlan>,
    command: &[String],
    workdir: Option<&str>,
    stop_timeout: u64,
    user: &str,
    install: &str,
) -> String {
    let p = &plan.project;
    let s = &service.name;
    let mut u = header::comment("#", plan, "systemd");
    match job {
        None => {
            let _ = write!(
                u,
                "[Unit]\nDescription={p} {s} (replica %i)\nWants=network-online.target\nAfter=network-online.target\nPartOf={p}.target\n"
            );
            // Deploy gates: every instance starts after they succeed.
            let gates: Vec<String> =
                service.gates().map(|j| format!("{}.service", job_unit(plan, service, j))).collect();
            if !gates.is_empty() {
                let _ = writeln!(u, "Requires={g}\nAfter={g}", g = gates.join(" "));
            }
        }
        Some(job) => {
            let _ = write!(
                u,
                "[Unit]\nDescription={p} {s}: job {}\nWants=network-online.target\nAfter=network-online.target\n",
                job.name
            );
        }
    }
    let deps: Vec<String> = service.uses.iter().map(|d| format!("{p}-{d}.service")).collect();
    if !deps.is_empty() {
        // Ordering only: the dependencies may run elsewhere.
        let _ = writeln!(u, "After={}", deps.join(" "));
    }
    let kind = if job.is_some() { "oneshot" } else { "exec" };
    let _ = write!(u, "\n[Service]\nType={kind}\nUser={user}\nGroup={user}\n");
    let workdir = workdir.map_or_else(
        || format!("{install}/{s}"),
        |w| if w.starts_with('/') { w.to_owned() } else { format!("{install}/{s}/{w}") },
    );
    let _ = writeln!(u, "WorkingDirectory={workdir}");
    match job {
        None => {
            let _ = writeln!(u, "EnvironmentFile=/etc/{p}/{s}-%i.env");
        }
        Some(job) => {
            let _ = writeln!(u, "EnvironmentFile=/etc/{p}/{s}-job.env\nEnvironment=BERTH_JOB={}", job.name);
        }
    }
    for var in &service.env {
        match &var.value {
            EnvValue::Literal { .. } => {}
            EnvValue::Secret { secret } => {
                let _ = writeln!(u, "LoadCredential={secret}:{}", credential_path(plan, secret));
                let _ = writeln!(u, "Environment={}_FILE=%d/{secret}", var.name);
            }
            EnvValue::Dependency { password_secret, .. } => {
                if let Some(secret) = password_secret {
                    let _ = writeln!(u, "LoadCredential={secret}:{}", credential_path(plan, secret));
                    let _ = writeln!(u, "Environment={}_PASSWORD_FILE=%d/{secret}", var.name);
                }
            }
        }
    }
    let _ = writeln!(u, "ExecStart={}", program(&workdir, command));
    let instance = match job {
        None => {
            let _ = write!(u, "Restart=on-failure\nRestartSec=2s\n");
            "%i".to_owned()
        }
        Some(job) => {
            // A oneshot's run is its start: the timeout stops it.
            let _ = writeln!(u, "TimeoutStartSec={}s", job.timeout.ceil_secs());
            job.name.clone()
        }
    };
    let _ = writeln!(u, "KillSignal=SIGTERM\nTimeoutStopSec={stop_timeout}s");
    // The service's own writable places, created by systemd with the right owner.
    let _ = writeln!(u, "StateDirectory={p}/{s}\nRuntimeDirectory={p}-{s}-{instance}\nReadWritePaths=/var/lib/{p}/{s}");
    // Configuration files, installed under /etc/<project>/files/<service>/
    // and bound read-only where the spec puts them; the digest makes a
    // changed file a changed unit.
    if let Some(digest) = service.files_digest() {
        let _ = writeln!(u, "# berth.dev/files-sha256: {digest}");
        for f in &service.files {
            let _ = writeln!(u, "BindReadOnlyPaths={}:{}", files_dir(plan, &service.name, &f.key), f.path);
        }
    }
    for volume in &service.volumes {
        if volume.persistent {
            let _ = writeln!(u, "StateDirectory={p}/{s}/{}", volume.name);
            let mode = if volume.read_only { "BindReadOnlyPaths" } else { "BindPaths" };
            let _ = writeln!(u, "{mode}=/var/lib/{p}/{s}/{}:{}", volume.name, volume.path);
        } else {
            let _ = writeln!(u, "TemporaryFileSystem={}", volume.path);
        }
    }
    devices(&mut u, service);
    let sec = &service.security;
    u.push_str("NoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\nProtectKernelTunables=yes\nProtectKernelModules=yes\nProtectKernelLogs=yes\nProtectControlGroups=yes\nProtectClock=yes\nProtectHostname=yes\nRestrictNamespaces=yes\nRestrictRealtime=yes\nRestrictSUIDSGID=yes\nRestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\nLockPersonality=yes\nSystemCallArchitectures=native\nSystemCallFilter=@system-service\nUMask=0077\n");
    let caps: Vec<String> =
        sec.add_capabilities.iter().map(|c| format!("CAP_{}", c.trim_start_matches("CAP_").to_uppercase())).collect();
    let _ = writeln!(u, "CapabilityBoundingSet={}\nAmbientCapabilities={}", caps.join(" "), caps.join(" "));
    if let Some(memory) = service.resources.limits.memory {
        let _ = writeln!(u, "MemoryMax={}M", memory.mebibytes());
    }
    if let Some(memory) = service.resources.requests.memory {
        let _ = writeln!(u, "MemoryLow={}M", memory.mebibytes());
    }
    if let Some(cpu) = service.resources.limits.cpu {
        let _ = writeln!(u, "CPUQuota={}%", cpu_quota(cpu));
    }
    u.push_str("TasksMax=4096\nLimitNOFILE=65535\n");
    // Jobs are started by their timer, by the instances they gate, or by hand.
    if job.is_none() {
        let _ = writeln!(u, "\n[Install]\nWantedBy={p}.target");
    }
    u
}

fn job_unit(plan: &Plan, service: &ServicePlan, job: &JobPlan) -> String {
    format!("{}-{}", plan.project, job.workload(&service.name))
}

/// The units of a service's jobs; returns the timers to start.
fn jobs(plan: &Plan, service: &ServicePlan, run: &RunPlan, user: &str, install: &str, out: &mut Output) -> Vec<String> {
    let mut timers = Vec::new();
    if service.jobs.is_empty() {
        return timers;
    }
    out.file(format!("env/{}-job.env", service.name), job_env(plan, service));
    for job in &service.jobs {
        let name = job_unit(plan, service, job);
        if job.retries > 0 {
            out.unsupported(
                Target::Systemd,
                format!("`retries: {}` of job `{}`", job.retries, job.name),
                "a oneshot unit runs once per start; its timer or the next deploy starts it again",
            );
        }
        out.file(
            format!("{name}.service"),
            template(
                plan,
                service,
                Some(job),
                &job.command,
                run.workdir.as_deref(),
                run.stop_timeout.ceil_secs(),
                user,
                install,
            ),
        );
        if let Some(schedule) = job.schedule() {
            let mut t = header::comment("#", plan, "systemd");
            let _ = write!(
                t,
                "[Unit]\nDescription={p} {s}: job {j} ({schedule} UTC)\n\n[Timer]\n{calendar}Persistent=true\n\n[Install]\nWantedBy=timers.target\n",
                p = plan.project,
                s = service.name,
                j = job.name,
                calendar = on_calendar_lines(schedule),
            );
            out.file(format!("{name}.timer"), t);
            timers.push(format!("{name}.timer"));
        }
    }
    timers
}

/// A job's environment: the service's settings without replica ports.
fn job_env(plan: &Plan, service: &ServicePlan) -> String {
    let mut e = header::comment("#", plan, "systemd");
    settings(&mut e, service);
    e
}

/// No devices but the pseudo ones, unless the spec names some: then those
/// and the GPUs' device classes, in a closed device policy.
fn devices(u: &mut String, service: &ServicePlan) {
    let mut allowed: Vec<&str> = service.devices.iter().map(String::as_str).collect();
    match service.resources.gpu.map(|g| g.vendor) {
        Some(berth_spec::GpuVendor::Nvidia) => allowed.extend(["char-nvidia-frontend", "char-nvidia-uvm"]),
        Some(berth_spec::GpuVendor::Amd) => allowed.extend(["/dev/kfd", "char-drm"]),
        None => {}
    }
    if allowed.is_empty() {
        u.push_str("PrivateDevices=yes\n");
        return;
    }
    u.push_str("PrivateDevices=no\nDevicePolicy=closed\n");
    for device in allowed {
        let _ = writeln!(u, "DeviceAllow={device} rw");
    }
}

/// `CPUQuota=` for a CPU limit, in whole percent of a core: rounded down
/// (the stricter way) and at least 1%, the least systemd gives. [`render`]
/// names a limit this changes.
fn cpu_quota(cpu: berth_spec::model::units::Cpu) -> u64 {
    (cpu.0 / 10).max(1)
}

/// Ports and plain settings for one replica. Never secrets: those come
/// through credentials.
fn replica_env(plan: &Plan, service: &ServicePlan, index: u32) -> String {
    let mut e = header::comment("#", plan, "systemd");
    if let Some(primary) = &service.primary_port {
        let _ = writeln!(e, "PORT={}", replica_port(primary.port, index));
    }
    for port in &service.ports {
        let _ = writeln!(e, "PORT_{}={}", port.name.to_uppercase().replace('-', "_"), replica_port(port.port, index));
    }
    let _ = writeln!(e, "BERTH_REPLICA={index}");
    settings(&mut e, service);
    e
}

/// A service's plain settings and dependency URLs as EnvironmentFile
/// lines. Never secrets: those come through credentials.
fn settings(e: &mut String, service: &ServicePlan) {
    for var in &service.env {
        match &var.value {
            EnvValue::Literal { value } => {
                let _ = writeln!(e, "{}={}", var.name, env_quote(value));
            }
            EnvValue::Dependency { url, .. } => {
                let _ = writeln!(e, "{}={}", var.name, env_quote(url));
            }
            EnvValue::Secret { .. } => {}
        }
    }
}

/// systemd EnvironmentFile quoting: double quotes when needed, no `export`.
fn env_quote(value: &str) -> String {
    if value.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@,+=%".contains(c)) {
        value.to_owned()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$"))
    }
}

fn backup_service(plan: &Plan, job: &BackupJob, user: &str) -> String {
    let p = &plan.project;
    let mut u = header::comment("#", plan, "systemd");
    let what = match &job.subject {
        BackupSubject::Volume { service, volume } => format!("volume {volume} of {service}"),
        _ => job.name.clone(),
    };
    let _ = write!(
        u,
        "[Unit]\nDescription={p}: back up {what} ({method}) and prove the backup restores\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nUser={user}\nGroup={user}\nWorkingDirectory=/etc/{p}\nEnvironmentFile=-/etc/{p}/backup.env\n",
        method = job.method,
    );
    let password = plan.dependencies.iter().find(|d| d.name == job.name).and_then(|d| d.password_secret.clone());
    // The signing and encryption keys too: the job signs (and encrypts)
    // what it writes and checks (and decrypts) it when it verifies.
    let mut secrets: Vec<String> = Vec::new();
    for secret in password.into_iter().chain(job.signing_key_secret.clone()).chain(job.encryption_key_secret.clone()) {
        if !secrets.contains(&secret) {
            secrets.push(secret);
        }
    }
    for secret in secrets {
        let _ = writeln!(u, "LoadCredential={secret}:{}", credential_path(plan, &secret));
    }
    // Where the service units keep the volume (their `StateDirectory=`),
    // which this unit reads under `ProtectSystem=strict`.
    let dir = match &job.subject {
        BackupSubject::Volume { service, volume } => Some(format!("/var/lib/{p}/{service}/{volume}")),
        _ => None,
    };
    let spec = format!("/etc/{p}/berth.yaml");
    for command in scheduled::backup_commands(plan, job, "/usr/local/bin/berth", &spec, dir.as_deref()) {
        let _ = writeln!(u, "ExecStart={command}");
    }
    let _ = write!(u, "StateDirectory={p}/backup\nCacheDirectory={p}/backup\n{HARDENING}");
    if let Some(dir) = local_destination(&job.to) {
        let _ = writeln!(u, "ReadWritePaths=-{dir}");
    }
    u
}

/// Where the host's PostgreSQL copies finished WAL segments for the
/// shipper; systemd creates it for the shipper's unit (user `postgres`).
fn wal_spool(plan: &Plan, dependency: &str) -> String {
    format!("/var/lib/{}/wal-spool/{dependency}", plan.project)
}

/// Ships the spool to the backup destination every second. It runs as
/// `postgres`, the user whose `archive_command` fills the spool.
fn wal_ship_service(plan: &Plan, job: &BackupJob, spool: &str) -> String {
    let p = &plan.project;
    let dep = &job.name;
    let mut u = header::comment("#", plan, "systemd");
    let _ = write!(
        u,
        "[Unit]\nDescription={p}: ship {dep}'s archived WAL to {to} (point-in-time recovery)\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=simple\nUser=postgres\nGroup=postgres\nWorkingDirectory=/etc/{p}\nEnvironmentFile=-/etc/{p}/backup.env\nExecStart=/usr/local/bin/berth backup wal-ship {dep} {spec} --spool {spool}\nRestart=always\nRestartSec=5s\nStateDirectory={p}/wal-spool/{dep}\nStateDirectoryMode=0700\n{HARDENING}",
        to = job.to,
        spec = scheduled::spec_flags(plan, &format!("/etc/{p}/berth.yaml")),
    );
    if let Some(dir) = local_destination(&job.to) {
        let _ = writeln!(u, "ReadWritePaths=-{dir}");
    }
    u.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    u
}

/// `berth backup exporter` on the port the rendered Prometheus config
/// scrapes, so the alert on the newest verified backup has its metric.
fn exporter_service(plan: &Plan, user: &str) -> String {
    let p = &plan.project;
    let spec = scheduled::spec_flags(plan, &format!("/etc/{p}/berth.yaml"));
    let mut u = header::comment("#", plan, "systemd");
    let _ = write!(
        u,
        "[Unit]\nDescription={p}: backup metrics for Prometheus (newest verified backup, newest shipped WAL)\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=simple\nUser={user}\nGroup={user}\nWorkingDirectory=/etc/{p}\nEnvironmentFile=-/etc/{p}/backup.env\nExecStart=/usr/local/bin/berth backup exporter {spec} --listen 127.0.0.1:9188\nRestart=always\nRestartSec=5s\n{HARDENING}"
    );
    for dir in plan.backups.iter().filter_map(|j| local_destination(&j.to)) {
        let _ = writeln!(u, "ReadOnlyPaths=-{dir}");
    }
    u.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    u
}

/// The settings the host's PostgreSQL needs for continuous archiving, as a
/// file for its `conf.d` (Debian: /etc/postgresql/<version>/main/conf.d/).
fn archiving_conf(plan: &Plan, shipper: &str, settings: &[(String, String)]) -> String {
    let mut u = header::comment("#", plan, "systemd");
    let _ = writeln!(
        u,
        "# Continuous WAL archiving for physical backups. Start {shipper}.service\n# first (it creates the spool), then reload PostgreSQL (archive_mode needs a restart)."
    );
    for (k, v) in settings {
        let _ = writeln!(u, "{k} = '{}'", v.replace('\\', "\\\\").replace('\'', "''"));
    }
    u
}

/// A backup destination on this host, as an absolute path to allow writes to.
fn local_destination(to: &str) -> Option<String> {
    let path = to.strip_prefix("file://").unwrap_or(to);
    if to.contains("://") && !to.starts_with("file://") {
        return None;
    }
    Some(if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/var/lib/berth-backups/{}", path.trim_start_matches("./"))
    })
}

fn backup_timer(plan: &Plan, job: &BackupJob) -> String {
    let mut u = header::comment("#", plan, "systemd");
    let _ = write!(
        u,
        "[Unit]\nDescription={p}: scheduled backup of {dep} ({schedule} UTC)\n\n[Timer]\n{calendar}Persistent=true\nRandomizedDelaySec=60s\n\n[Install]\nWantedBy=timers.target\n",
        p = plan.project,
        dep = job.name,
        schedule = job.schedule,
        calendar = on_calendar_lines(&job.schedule),
    );
    u
}

/// `OnCalendar=` lines for a cron schedule, in UTC. Every field is spelled
/// out as the list of values cron selects, so no cron syntax (steps, ranges,
/// Sunday as 7) has to mean the same in systemd's. Cron fires on a day
/// matching the day of month *or* the day of week when both are
/// restricted, while one systemd calendar event needs both: such a
/// schedule becomes two events, which a timer fires on either of.
fn on_calendar_lines(schedule: &Schedule) -> String {
    let (dom, dow) = (schedule.fields()[2], schedule.fields()[4]);
    let events = if dom.starts_with('*') || dow.starts_with('*') {
        vec![on_calendar(schedule, true, true)]
    } else {
        vec![on_calendar(schedule, true, false), on_calendar(schedule, false, true)]
    };
    events.iter().map(|e| format!("OnCalendar={e}\n")).collect()
}

/// One systemd calendar event for `schedule`, with or without its day of
/// month and day of week.
fn on_calendar(schedule: &Schedule, with_day: bool, with_weekday: bool) -> String {
    const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let list = |index: usize| {
        schedule
            .values(index)
            .map_or_else(|| "*".to_owned(), |v| v.iter().map(|n| format!("{n:02}")).collect::<Vec<_>>().join(","))
    };
    let weekdays = match schedule.values(4).filter(|_| with_weekday) {
        Some(days) => {
            let names: Vec<&str> = days.iter().filter_map(|d| NAMES.get(*d as usize).copied()).collect();
            format!("{} ", names.join(","))
        }
        None => String::new(),
    };
    let day = if with_day { list(2) } else { "*".to_owned() };
    let minute = list(0);
    let hour = list(1);
    format!("{weekdays}*-{}-{day} {hour}:{minute}:00 UTC", list(3))
}

/// Where the systemd install puts a service's configuration file.
fn files_dir(plan: &Plan, service: &str, key: &str) -> String {
    format!("/etc/{}/files/{service}/{key}", plan.project)
}

fn install_notes(plan: &Plan, user: &str, install: &str) -> String {
    let p = &plan.project;
    let mut n = header::comment("<!--", plan, "systemd").replace('\n', " -->\n");
    let _ = write!(
        n,
        "# Installing the {p} units

1. Create the service user: `cp sysusers.d/{p}.conf /etc/sysusers.d/ && systemd-sysusers`.
2. Put each service's program under `{install}/<service>/` (the path in its `ExecStart=`).
3. Copy `env/<service>-<replica>.env` to `/etc/{p}/` (ports and plain settings only; no secrets).
   Copy `files/<service>/` (configuration files, when the spec has any) to `/etc/{p}/files/<service>/`,
   owned by root, mode 0644: each unit binds them read-only where the spec says.
4. Put each secret's value in `/etc/{p}/credentials/<secret>`, owned by root, mode 0600.
   Services read it through `LoadCredential=` as `$<VAR>_FILE`; it never enters the environment.
5. Copy the `.service`, `.timer` and `.target` files to `/etc/systemd/system/`, then
   `systemctl daemon-reload && systemctl enable --now {p}.target`.

The units run as `{user}` with a read-only system, private /tmp and devices, no
capabilities unless the spec adds them, and write only to `/var/lib/{p}/<service>`.
"
    );
    if plan.targets.systemd.as_ref().is_some_and(|s| s.host.is_some()) {
        n.push_str(
            "
## The host

`host/` holds the machine's side, each file with its install step at the top:
the firewall (`nftables.conf`: SSH and the edge's ports in, nothing else), kernel
settings for a proxy host (`sysctl.d/`), a fail2ban jail that bans addresses
the edge keeps refusing (`fail2ban/`, reading nginx's access log), and daily
unattended security upgrades (`apt/`). Load the firewall from a console or
with a timed rollback the first time: a wrong `ssh_port` locks you out.
",
        );
    }
    n
}

#[cfg(test)]
mod tests {
    use berth_spec::model::units::Schedule;

    use super::{on_calendar_lines, program};

    #[test]
    fn programs_are_found_as_berth_up_finds_them() {
        let run = |c: &[&str]| program("/opt/x/api", &c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(run(&["./target/release/api", "--port", "8080"]), "/opt/x/api/target/release/api --port 8080");
        assert_eq!(run(&["bin/api"]), "/opt/x/api/bin/api");
        assert_eq!(run(&["gunicorn", "-b", ":8000"]), "gunicorn -b :8000");
        assert_eq!(run(&["/usr/bin/env", "python3"]), "/usr/bin/env python3");
    }

    #[test]
    fn cron_to_calendar() {
        let lines = |cron: &str| on_calendar_lines(&Schedule::parse(cron).unwrap());
        assert_eq!(lines("0 3 * * *"), "OnCalendar=*-*-* 03:00:00 UTC\n");
        assert_eq!(
            lines("*/15 1-5 * * 1-5"),
            "OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 01,02,03,04,05:00,15,30,45:00 UTC\n"
        );
        assert_eq!(lines("@daily"), "OnCalendar=*-*-* 00:00:00 UTC\n");
        assert_eq!(lines("0 0 * * 7"), "OnCalendar=Sun *-*-* 00:00:00 UTC\n");
        // Day of month or day of week: two events.
        assert_eq!(lines("0 0 1 * 1"), "OnCalendar=*-*-01 00:00:00 UTC\nOnCalendar=Mon *-*-* 00:00:00 UTC\n");
    }
}
