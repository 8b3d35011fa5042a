//! The command-line interface, declared once. Help, the CLI reference page
//! and shell completions are all generated from these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The spec a command reads when none is named.
pub const DEFAULT_SPEC: &str = "berth.yaml";

const AFTER_HELP: &str = "\
Exit codes (berth doctor has its own, as monitoring plugins expect):
  0  success
  1  findings: the spec or checked files have errors (or, with --deny-warnings,
     warnings), a target refused what the spec asks, files differ, a deploy
     rolled back
  2  wrong usage: an unknown flag, environment, service or dependency, a
     malformed value, conflicting flags, a missing confirmation
  3  a file could not be read or written, a server could not be reached
  4  a verification failed: a backup that is missing or incomplete, does not
     restore, or does not match its manifest

Environment:
  NO_COLOR  set to turn off colors (also --color never)

Docs: docs/spec.md (the berth.yaml reference), docs/cli.md (every command)";

/// berth: one spec for a web service in production.
///
/// berth reads berth.yaml and renders every deployment artifact from it,
/// checks production readiness, runs the stack on one machine, and
/// operates it.
#[derive(Debug, Parser)]
#[command(name = "berth", version, propagate_version = true, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to color output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter berth.yaml, detecting what it can.
    #[command(after_help = "\
Examples:
  berth init                 # in the project directory
  berth init ../shop --name shop
  berth init --force         # overwrite an existing berth.yaml

Detects the project name and run command from Cargo.toml, package.json,
go.mod or pyproject.toml; the port from a Dockerfile's EXPOSE; and
PostgreSQL or Redis from the project's dependencies.")]
    Init(InitArgs),

    /// Check a spec and report every problem with file, line and column.
    #[command(after_help = "\
Examples:
  berth validate                       # ./berth.yaml, base and every environment
  berth validate --env production      # one environment
  berth validate examples/*/berth.yaml
  berth validate -o json | jq '.[] | select(.severity == \"error\")'")]
    Validate(ValidateArgs),

    /// Print the resolved plan of one environment: what every target deploys.
    #[command(after_help = "\
Examples:
  berth plan                          # the base spec
  berth plan --env production -o json
  berth plan examples/web-api/berth.yaml --env staging

The plan shows defaults filled in, dependency URLs wired into services, the
alert set and backup jobs. Secret values never appear, only their names.")]
    Plan(PlanArgs),

    /// Render deployment files for one or more targets.
    #[command(after_help = "\
Examples:
  berth render all                          # every target into ./deploy/<target>/
  berth render compose nginx --env staging --out deploy/staging
  berth render kubernetes --check           # exit 1 if deploy/ differs from the spec (CI drift check)

Targets: compose, kubernetes, helm, nginx, systemd, prometheus, alertmanager,
grafana, ecs, cloudformation, cloudrun, diagram, runbook, or all.
What a target cannot express is reported as a warning naming the target and
the feature; everything else still renders. Secret values never appear in
rendered files, only references to them.")]
    Render(RenderArgs),

    /// Check deployment files for production readiness: a berth spec and what it renders, and hand-written Kubernetes manifests, compose files, Dockerfiles, nginx configs, Prometheus configs and rules, and systemd units, as one graph.
    #[command(after_help = "\
Examples:
  berth check                               # every deployment file under .
  berth check k8s/ Dockerfile               # hand-written files, no berth spec needed
  berth check berth.yaml --env production   # the spec and what it renders
  berth check -o sarif > berth.sarif        # for GitHub code scanning
  berth check --severity error              # fail only on errors

Cross-file rules connect what no single-file linter can: a Service's
targetPort and the pods it selects, NetworkPolicy ports and the pods on the
other end, nginx upstreams and the compose services or Services they name,
bind flags against declared ports, alerts on metrics nothing scrapes,
connection pools against max_connections. A file that does not parse is
reported and the rest is still checked.

Suppress a finding with a reason: an annotation `ignore.berth.dev/<CODE>:
<reason>` (or `ignore.berth.dev/<CODE>.<container>`), or a comment
`# berth: ignore[<CODE>] <reason>` on or above the line, or an entry in a
berth-check.yaml (rule, paths, object, reason). Suppressed findings
stay in JSON and SARIF output with their reason. Every rule is described in
docs/rules.md.

A berth-check.yaml also chooses the rules (`select`, `ignore_rules`, `rules`
with `off` or a severity per rule) and the files never reported on
(`exclude`); --select and --ignore win over it. On a repository with
findings already, record them once and fail only on new ones:
  berth check --write-baseline berth-baseline.json
  berth check --baseline berth-baseline.json
See docs/check.md.")]
    Check(CheckArgs),

    /// Show how the files in the output directory differ from what the spec renders.
    #[command(after_help = "\
Examples:
  berth diff all
  berth diff nginx --env production --out deploy/production

Exit code 1 when anything differs, so it doubles as a CI check.")]
    Diff(RenderArgs),

    /// Run the stack on this machine: every replica supervised, behind the berth edge.
    #[command(after_help = "\
Examples:
  berth up examples/quickstart/berth.yaml
  berth up --env development

Runs in the foreground (or in the background with -d); Ctrl-C or `berth down`
stops the edge, lets in-flight requests finish, then stops every replica. State, logs and
the edge's certificate live in .berth/<environment>/ next to the spec.
Secret values come from BERTH_SECRET_<NAME> (or the secret's `env:`/`file:`).")]
    Up(UpArgs),

    /// Run the berth edge on its own, in front of services reached by name: the gateway the kubernetes and compose targets render with `gateway: true`.
    #[command(after_help = "\
Examples:
  berth edge /etc/berth/berth.yaml --env production
  berth edge berth.yaml --tls-cert /tls/tls.crt --tls-key /tls/tls.key

Every route feature (auth, allowlists, rate limits, headers, body limits,
timeouts, WebSockets, host routing) is enforced as under `berth up`. A
service is reached as `<service>:<port>` on the platform's DNS, resolved
again every few seconds. Secret values come from BERTH_SECRET_<NAME> (or the
secret's `env:`/`file:`). SIGTERM stops accepting and drains.")]
    Edge(EdgeArgs),

    /// Show every replica: pid, port, health, restarts and version.
    #[command(after_help = "\
Examples:
  berth status
  berth status -o json")]
    Status(StatusArgs),

    /// Stop a stack started by `berth up`.
    Down(StackArgs),

    /// Roll out a new version with no failed request: start, gate on readiness, switch, drain.
    #[command(
        after_help = "\
Examples:
  berth deploy web --version 1.2.0
  berth deploy --version 1.2.0              # every service
  berth deploy web --set FEATURE_X=on       # same version, changed setting

The strategy (rolling, blue-green, canary), health timeout and drain timeout
come from the spec's `deploy`. A new version that never becomes ready is
stopped and the old one keeps serving. The new replicas get BERTH_VERSION.",
        disable_version_flag = true
    )]
    Deploy(DeployArgs),

    /// Send every request to a waiting canary.
    Promote(ServiceArgs),

    /// Drop a waiting canary, or return a service to the version before its last deploy.
    Rollback(ServiceArgs),

    /// Run one of the spec's jobs now, in the running stack, with its service's settings and version.
    #[command(after_help = "\
Examples:
  berth run migrate
  berth run nightly-report -f berth.yaml

The job's output goes to its log (`berth logs`, or .berth/logs/<service>-<job>.log).
Exits 1 when the job fails or passes its timeout.")]
    Run(JobArgs),

    /// Print the services' logs, merged and prefixed.
    #[command(after_help = "\
Examples:
  berth logs            # every service
  berth logs web -f     # one service, following")]
    Logs(LogsArgs),

    /// Back up dependencies; list, verify and prune their backups.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "\
Examples:
  berth backup                          # every dependency with a backup policy
  berth backup db --env production      # one dependency
  berth backup db -f deploy/berth.yaml  # the spec with -f; a plain argument is a dependency
  berth backup verify db                # restore the newest into a scratch server and compare
  berth backup list db -o json
  berth backup prune --dry-run          # what the retention policy would delete

Methods and destinations come from each dependency's `backup:` in the spec.
A backup's manifest (checksums, row counts, WAL range) is written after its
data; a backup without one is incomplete. Any failing step exits non-zero
and names the step.

The server: --from URL, else the dependency's URL variable (DATABASE_URL),
else a running `berth up`, else the plan's host with the password from its
secret. Object storage credentials come from AWS_*, GOOGLE_* and AZURE_*
variables (AWS_ENDPOINT for S3-compatible servers)."
    )]
    Backup(BackupArgs),

    /// Restore a backup into a scratch database, verify it, then swap it in.
    #[command(after_help = "\
Examples:
  berth restore db                                  # newest backup, into db_restore_<id>
  berth restore db 20261122T031500Z --replace       # swap in after verifying, asks first
  berth restore db --to-time '2026-11-22 10:14:00 UTC' --yes
  berth restore db --to postgres://app@staging:5432/app

Nothing live changes until the copy is restored, its checksums match and
its row counts equal the manifest's. Then --replace (with a confirmation)
or --yes renames the live database to <db>_before_<id> and the copy into
its place. --to-time replays archived WAL onto the newest physical backup
before that moment.")]
    Restore(RestoreArgs),

    /// Check a running deployment against its spec: health, replicas, dependencies, certificates, disk, backups, WAL, secrets, drift.
    #[command(after_help = "\
Examples:
  berth doctor                              # the stack berth up runs from ./berth.yaml
  berth doctor --env production -o json
  berth doctor --endpoint api=http://127.0.0.1:8080   # a port-forward or a compose port

Checks every service's health and readiness endpoints and replica count;
the edge and the replicas it sees healthy; TLS certificates (expired fails,
under 30 days warns); each dependency's reachability, version, settings and
extensions; the newest verified backup against the schedule and the last
shipped WAL against the recovery point; free disk space of data and backup
paths; secret files (0600); and drift between the spec and what runs.
Dependencies are found as `berth backup` finds them (URL variable, running
stack, the plan's host).

Exit codes, as monitoring plugins use them (Nagios, Icinga, Sensu):
  0  every check passed
  1  warnings
  2  failures; also wrong usage, as for every berth command (an unknown flag,
     a malformed --endpoint or one naming no service of the spec)
  3  the doctor could not run (the spec has errors, a file cannot be read)")]
    Doctor(DoctorArgs),

    /// Print the JSON Schema of berth.yaml, for editors and CI.
    #[command(after_help = "\
Examples:
  berth schema > berth.schema.json
  # then, as the first line of berth.yaml:
  # yaml-language-server: $schema=./berth.schema.json")]
    Schema,

    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  berth completions bash > /etc/bash_completion.d/berth
  berth completions zsh > \"${fpath[1]}/_berth\"
  berth completions fish > ~/.config/fish/completions/berth.fish")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Project directory to write berth.yaml into.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Project name (default: detected, or the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Overwrite an existing berth.yaml.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Spec files to check [default: berth.yaml].
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A spec file to check, as kubectl and helm take it (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file_flags: Vec<PathBuf>,
    /// Check one environment's overlay only (default: the base and every environment).
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ReportFormat::Human)]
    pub output: ReportFormat,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories to check [default: .] (directories are walked; .git, target and node_modules are skipped).
    pub paths: Vec<PathBuf>,
    /// A file or directory to check, as kubectl and helm take it (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file_flags: Vec<PathBuf>,
    /// The environment overlay of berth specs to check.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = CheckFormat::Human)]
    pub output: CheckFormat,
    /// Lowest severity that is shown and fails the run (exit 1).
    #[arg(long, value_enum, default_value_t = SeverityArg::Warning)]
    pub severity: SeverityArg,
    /// Run only these rules: codes, names or code prefixes (`K`, `X01`, `ALL`), comma-separated; replaces `select` in berth-check.yaml.
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub select: Option<Vec<String>>,
    /// Turn these rules off: codes, names or code prefixes, comma-separated; wins over berth-check.yaml.
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Hide the findings this baseline file holds (see --write-baseline): only new findings count.
    #[arg(long, value_name = "FILE", conflicts_with = "write_baseline")]
    pub baseline: Option<PathBuf>,
    /// Record every current finding in FILE as the baseline, and exit 0.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Do not render Helm charts with `helm template` even when helm is on PATH (their templates are then skipped with a note).
    #[arg(long)]
    pub no_helm: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// For people: file:line, the snippet, a hint.
    Human,
    /// Files and findings (suppressed ones with their reason).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// JUnit XML, for CI test reports.
    Junit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Spec file [default: berth.yaml].
    #[arg(value_name = "FILE", conflicts_with = "file_flag")]
    file_pos: Option<PathBuf>,
    /// Spec file, as kubectl and helm take it.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file_flag: Option<PathBuf>,
    /// The spec file given either way; set by [`Command::resolve`].
    #[arg(skip = PathBuf::from(DEFAULT_SPEC))]
    pub file: PathBuf,
    /// Environment whose overlay to apply.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = PlanFormat::Yaml)]
    pub output: PlanFormat,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Targets to render, or `all`.
    #[arg(required = true, value_parser = parse_targets)]
    pub targets: Vec<Targets>,
    /// Spec file.
    #[arg(long, short = 'f', default_value = "berth.yaml")]
    pub file: PathBuf,
    /// Environment whose overlay to apply.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// Directory the files go in, one subdirectory per target.
    #[arg(long, default_value = "deploy")]
    pub out: PathBuf,
    /// Write nothing; exit 1 when the directory differs from what the spec renders.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct StackArgs {
    /// Spec file [default: berth.yaml].
    #[arg(value_name = "FILE", conflicts_with = "file_flag")]
    file_pos: Option<PathBuf>,
    /// Spec file, as kubectl and helm take it.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file_flag: Option<PathBuf>,
    /// The spec file given either way; set by [`Command::resolve`].
    #[arg(skip = PathBuf::from(DEFAULT_SPEC))]
    pub file: PathBuf,
    /// Environment whose overlay to apply.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct EdgeArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Address to bind the spec's HTTP and HTTPS ports on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: std::net::IpAddr,
    /// Address of the status page and metrics (they answer loopback host names only). Default: 127.0.0.1 and the spec's admin port.
    #[arg(long)]
    pub admin: Option<std::net::SocketAddr>,
    /// Certificate (PEM) to serve instead of the spec's TLS mode, such as a mounted TLS Secret.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Directory of secret files named after the secrets (docker and compose secrets: /run/secrets), read before the environment.
    #[arg(long)]
    pub secrets_dir: Option<PathBuf>,
    /// Seconds between resolving the services' names again.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub resolve_every: u64,
    /// Seconds in-flight requests get after SIGTERM.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub drain: u64,
    /// Read the spec from this environment variable instead of a file (platforms that mount no files, such as ECS).
    #[arg(long, value_name = "VAR", conflicts_with_all = ["file_pos", "file_flag"])]
    pub spec_env: Option<String>,
    /// DNS domain the services are found under (`api.<DOMAIN>`), such as an ECS service-discovery namespace.
    #[arg(long)]
    pub domain: Option<String>,
    /// TLS ends at the load balancer in front: serve HTTP only and believe its X-Forwarded-Proto.
    #[arg(long)]
    pub tls_offloaded: bool,
    /// A proxy (address or CIDR block) whose X-Forwarded-For and X-Forwarded-Proto are believed, besides the spec's trusted_proxies. Repeatable.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = cidr_arg)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Run in the background; output goes to .berth/<environment>/logs/berth-up.log.
    #[arg(long, short = 'd')]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Service to deploy (default: every service).
    pub service: Option<String>,
    /// Version to run; the new replicas see it as BERTH_VERSION.
    #[arg(long)]
    pub version: Option<String>,
    /// Extra environment for the new replicas, KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_assignment)]
    pub set: Vec<(String, String)>,
    /// Spec file.
    #[arg(long, short = 'f', default_value = DEFAULT_SPEC)]
    pub file: PathBuf,
    /// Environment whose overlay to apply.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The service.
    pub service: String,
    /// Spec file.
    #[arg(long, short = 'f', default_value = DEFAULT_SPEC)]
    pub file: PathBuf,
    /// Environment whose overlay to apply.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job, by its name under a service's `jobs`.
    pub job: String,
    /// Spec file.
    #[arg(long, short = 'f', default_value = DEFAULT_SPEC)]
    pub file: PathBuf,
    /// Environment whose overlay to apply.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = StatusFormat::Table)]
    pub output: StatusFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this service.
    pub service: Option<String>,
    /// Spec file.
    // `-f` follows, as in `tail -f` and `kubectl logs -f`.
    #[arg(long, default_value = DEFAULT_SPEC)]
    pub file: PathBuf,
    /// Environment whose overlay to apply.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// Keep printing new lines.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Check SERVICE at URL (http://host:port) instead of in a running `berth up`; repeatable.
    #[arg(long, value_name = "SERVICE=URL", value_parser = parse_endpoint)]
    pub endpoint: Vec<Endpoint>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = StatusFormat::Table)]
    pub output: StatusFormat,
}

/// Which dependency, spec and server a backup command works on.
#[derive(Debug, Args)]
pub struct BackupTarget {
    /// Dependency, or a service's volume as SERVICE.VOLUME (default: everything with a backup policy); the spec is named with -f.
    pub dependency: Option<String>,
    /// Spec file.
    // `--spec` is what the jobs berth renders pass (berth-render's scheduled.rs).
    #[arg(long = "file", short = 'f', alias = "spec", value_name = "FILE", default_value = DEFAULT_SPEC)]
    pub spec: PathBuf,
    /// Environment whose overlay to apply.
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// The server's connection URL (default: see below).
    #[arg(long, value_name = "URL", value_parser = url_arg)]
    pub from: Option<String>,
    /// Parallel jobs for dumps, restores and compression (default: CPUs).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Scratch space for staging and scratch servers (default: in $TMPDIR).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// A volume's directory (default: berth up's, else the systemd target's /var/lib/PROJECT/SERVICE/VOLUME).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The command as typed (`backup verify`), for messages that suggest
    /// another way to say it; set by [`Command::resolve`].
    #[arg(skip)]
    pub command: &'static str,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    #[command(flatten)]
    pub target: BackupTarget,
    /// PostgreSQL: override the spec's method.
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = StatusFormat::Table)]
    pub output: StatusFormat,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Restore a backup into a scratch server, check its checksums and compare it with its manifest.
    Verify {
        #[command(flatten)]
        target: BackupTarget,
        /// Backup id (default: the newest complete backup).
        backup: Option<String>,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t = StatusFormat::Table)]
        output: StatusFormat,
    },
    /// List backups: id, method, when, size, verified.
    List {
        #[command(flatten)]
        target: BackupTarget,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t = StatusFormat::Table)]
        output: StatusFormat,
    },
    /// Delete what the spec's retention does not keep; never the newest verified backup or WAL a kept base backup needs.
    Prune {
        #[command(flatten)]
        target: BackupTarget,
        /// Show what would go; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Serve the backups' state as Prometheus metrics (newest verified backup, newest shipped WAL) for the rendered alerts.
    Exporter {
        #[command(flatten)]
        target: BackupTarget,
        /// Address to listen on (the rendered Prometheus config scrapes 127.0.0.1:9188).
        #[arg(long, default_value = "127.0.0.1:9188")]
        listen: std::net::SocketAddr,
    },
    /// Ship WAL segments from PostgreSQL's archive spool to the destination (`berth up` does this itself).
    WalShip {
        #[command(flatten)]
        target: BackupTarget,
        /// The directory archive_command copies segments into.
        #[arg(long)]
        spool: PathBuf,
        /// One pass, then exit (default: every second until stopped).
        #[arg(long)]
        once: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Logical,
    Physical,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub target: BackupTarget,
    /// Backup id (default: the newest complete backup).
    #[arg(conflicts_with = "to_time")]
    pub backup: Option<String>,
    /// Recover to this moment (`2026-11-22 10:14:00 UTC`, RFC 3339): PostgreSQL with physical backups.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to_time: Option<jiff::Timestamp>,
    /// Restore into this server instead of the dependency's own.
    #[arg(long, value_name = "DATABASE_URL", value_parser = url_arg)]
    pub to: Option<String>,
    /// Swap the verified copy in for the live database, after a confirmation.
    #[arg(long)]
    pub replace: bool,
    /// Swap it in without asking (implies --replace).
    #[arg(long)]
    pub yes: bool,
}

/// One `render` argument: a target, or every target.
#[derive(Debug, Clone)]
pub struct Targets(pub Vec<berth_render::Target>);

fn parse_targets(s: &str) -> Result<Targets, String> {
    if s == "all" {
        return Ok(Targets(berth_render::Target::ALL.to_vec()));
    }
    s.parse().map(|t| Targets(vec![t]))
}

// Flag values are read into their types here, where clap reads the
// arguments: a malformed one is wrong usage (exit 2) with clap's message,
// before any command runs.

/// `--set KEY=VALUE`.
fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE".to_owned()),
    }
}

/// `berth doctor --endpoint SERVICE=URL`: a service checked at a plain
/// HTTP address instead of in a running `berth up`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// As given, for messages.
    pub given: String,
    pub service: String,
    pub url: url::Url,
}

fn parse_endpoint(text: &str) -> Result<Endpoint, String> {
    let Some((service, url)) = text.split_once('=').filter(|(service, _)| !service.is_empty()) else {
        return Err("expected SERVICE=URL, such as api=http://127.0.0.1:8080".to_owned());
    };
    let url = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if url.scheme() != "http" {
        return Err("only http:// endpoints are checked (health checks run on the plain port)".to_owned());
    }
    Ok(Endpoint { given: text.to_owned(), service: service.to_owned(), url })
}

/// A connection URL (`--from`, `--to`), kept as written.
fn url_arg(text: &str) -> Result<String, String> {
    url::Url::parse(text).map(|_| text.to_owned()).map_err(|e| format!("not a URL: {e}"))
}

/// `--trusted-proxy`: an address or a CIDR block, as the edge reads them.
fn cidr_arg(text: &str) -> Result<String, String> {
    let wrong = || "not an address or CIDR block (such as 10.0.0.0/8)".to_owned();
    let (addr, bits) = match text.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits)),
        None => (text, None),
    };
    let addr: std::net::IpAddr = addr.parse().map_err(|_| wrong())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match bits.map(str::parse::<u8>) {
        None => Ok(text.to_owned()),
        Some(Ok(bits)) if bits <= max => Ok(text.to_owned()),
        Some(_) => Err(wrong()),
    }
}

/// `--to-time`: `2026-11-22 10:14:00 UTC` (UTC when no zone is written) or RFC 3339.
fn parse_time(text: &str) -> Result<jiff::Timestamp, String> {
    let normalized = text.trim().replace(" UTC", "Z").replace(" utc", "Z");
    if let Ok(t) = normalized.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let civil: jiff::civil::DateTime = normalized
        .trim_end_matches('Z')
        .parse()
        .map_err(|_| "write the time as `2026-11-22 10:14:00 UTC` or RFC 3339".to_owned())?;
    civil.to_zoned(jiff::tz::TimeZone::UTC).map(|zoned| zoned.timestamp()).map_err(|e| e.to_string())
}

/// How diagnostics are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people: the line, the problem underlined, a hint.
    Human,
    /// A JSON array of diagnostics with 1-based line/column positions.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Yaml,
    Json,
}

/// The spec file named as a positional argument or with `-f`.
fn either(pos: &mut Option<PathBuf>, flag: &mut Option<PathBuf>) -> PathBuf {
    flag.take().or_else(|| pos.take()).unwrap_or_else(|| PathBuf::from(DEFAULT_SPEC))
}

impl StackArgs {
    fn resolve(&mut self) {
        self.file = either(&mut self.file_pos, &mut self.file_flag);
    }
}

impl Command {
    /// Settles arguments that clap takes in two forms (the spec file as
    /// `FILE` or `-f FILE`), so commands read one field, and notes which
    /// backup command runs, for its messages.
    pub fn resolve(&mut self) {
        match self {
            Self::Plan(args) => args.file = either(&mut args.file_pos, &mut args.file_flag),
            Self::Validate(args) => {
                args.files.append(&mut args.file_flags);
                if args.files.is_empty() {
                    args.files.push(PathBuf::from(DEFAULT_SPEC));
                }
            }
            Self::Check(args) => {
                args.paths.append(&mut args.file_flags);
                if args.paths.is_empty() {
                    args.paths.push(PathBuf::from("."));
                }
            }
            Self::Backup(args) => match &mut args.command {
                None => args.target.command = "backup",
                Some(BackupCommand::Verify { target, .. }) => target.command = "backup verify",
                Some(BackupCommand::List { target, .. }) => target.command = "backup list",
                Some(BackupCommand::Prune { target, .. }) => target.command = "backup prune",
                Some(BackupCommand::Exporter { target, .. }) => target.command = "backup exporter",
                Some(BackupCommand::WalShip { target, .. }) => target.command = "backup wal-ship",
            },
            Self::Restore(args) => args.target.command = "restore",
            Self::Up(args) => args.stack.resolve(),
            Self::Edge(args) => args.stack.resolve(),
            Self::Status(args) => args.stack.resolve(),
            Self::Doctor(args) => args.stack.resolve(),
            Self::Down(args) => args.resolve(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flag_values_are_read_where_the_arguments_are() {
        assert_eq!(super::parse_assignment("A=b=c"), Ok(("A".to_owned(), "b=c".to_owned())));
        assert!(super::parse_assignment("NO_EQUALS_SIGN").is_err() && super::parse_assignment("=x").is_err());
        let endpoint = super::parse_endpoint("api=http://127.0.0.1:8080").unwrap();
        assert_eq!((endpoint.service.as_str(), endpoint.url.port()), ("api", Some(8080)));
        assert!(
            super::parse_endpoint("api=127.0.0.1:8080").is_err() && super::parse_endpoint("api=https://x").is_err()
        );
        assert!(super::cidr_arg("10.0.0.0/8").is_ok() && super::cidr_arg("::1").is_ok());
        assert!(super::cidr_arg("10.0.0.0/33").is_err() && super::cidr_arg("proxy").is_err());
        let expected = "2026-11-22T10:14:00Z".parse::<jiff::Timestamp>().unwrap();
        assert_eq!(super::parse_time("2026-11-22 10:14:00 UTC"), Ok(expected));
        assert!(super::parse_time("yesterday").is_err());
    }

    #[test]
    fn conflicting_flags_are_usage_errors() {
        use clap::Parser as _;
        for args in [
            &["berth", "plan", "a.yaml", "-f", "b.yaml"][..],
            &["berth", "check", "--baseline", "a.json", "--write-baseline", "b.json"],
            &["berth", "edge", "berth.yaml", "--spec-env", "SPEC"],
        ] {
            let error = Cli::try_parse_from(args.iter().copied()).unwrap_err();
            assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict, "{args:?}");
        }
    }

    #[test]
    fn backup_takes_the_spec_with_dash_f_and_as_rendered_jobs_pass_it() {
        use clap::Parser as _;
        for flag in ["-f", "--file", "--spec"] {
            let mut cli = Cli::try_parse_from(["berth", "backup", "verify", "db", flag, "x.yaml"]).unwrap();
            cli.command.resolve();
            let super::Command::Backup(args) = cli.command else { panic!("not `berth backup`") };
            let Some(super::BackupCommand::Verify { target, .. }) = args.command else { panic!("not `verify`") };
            assert_eq!((target.spec.to_str(), target.command), (Some("x.yaml"), "backup verify"), "{flag}");
        }
    }

    #[test]
    fn render_help_names_every_target() {
        let mut command = Cli::command();
        let help = command.find_subcommand_mut("render").map(|c| c.render_long_help().to_string()).unwrap_or_default();
        for target in berth_render::Target::ALL {
            assert!(help.contains(target.name()), "`berth render --help` does not mention {}", target.name());
        }
    }
}
