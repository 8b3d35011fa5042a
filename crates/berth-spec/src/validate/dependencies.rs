use berth_diagnostics::Severity;

use super::Checker;
use crate::model::{BackupMethod, Dependency, DependencyKind, Managed, Pooler, StorageType};
use crate::path::{Anchor, Path};
use crate::{Spec, codes};

/// Backup destinations berth can write to.
pub const BACKUP_SCHEMES: &[&str] = &["file", "s3", "gs", "az"];

pub(crate) fn check(spec: &Spec, checker: &mut Checker<'_>) {
    for (name, dep) in &spec.dependencies {
        let path = Path::root().key("dependencies").key(name);
        not_applicable(dep, &path, checker);
        identifiers(dep, &path, checker);
        default_role(spec, dep, &path, checker);
        if let Some(m) = &dep.managed {
            managed(m, dep.kind, &path.key("managed"), checker);
        }
        if let Some(pooler) = &dep.pooler
            && dep.kind == DependencyKind::Postgres
        {
            pooler_budget(name, dep, pooler, &path, checker);
            let pooler_name = format!("{name}-pooler");
            if spec.services.contains_key(&pooler_name) || spec.dependencies.contains_key(&pooler_name) {
                checker
                    .error(
                        codes::DUPLICATE_NAME,
                        &path.key("pooler"),
                        format!("the pooler of `{name}` is named `{pooler_name}`, and so is a service or dependency"),
                    )
                    .with_help(format!("rename the other `{pooler_name}`"));
            }
        }
        if let Some(version) = &dep.version
            && (version.is_empty()
                || !version.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        {
            checker
                .error(codes::INVALID_VALUE, &path.key("version"), format!("`{version}` is not a version number"))
                .with_help("write the major version, such as `16` or `7.2`");
        }
        if dep.password.is_none() {
            checker
                .report(codes::INSECURE_SETTING, Severity::Warning, &path, Anchor::Key, format!("dependency `{name}` has no password"))
                .with_help("declare a secret and add `password: { secret: <name> }`; without one, anything that reaches the port can read and change the data");
        }
        if let Some(var) = &dep.url_env
            && !super::services::is_env_name(var)
        {
            checker.error(
                codes::INVALID_NAME,
                &path.key("url_env"),
                format!("`{var}` is not a valid environment variable name"),
            );
        }
        if !spec.services.values().any(|s| s.uses.contains(name)) {
            checker
                .report(
                    codes::UNUSED,
                    Severity::Warning,
                    &path,
                    Anchor::Key,
                    format!("no service uses dependency `{name}`"),
                )
                .with_help(format!("add `uses: [{name}]` to the services that connect to it, or remove it"));
        }
        if let Some(backup) = &dep.backup {
            let bpath = path.key("backup");
            if backup.method == Some(BackupMethod::Physical) && dep.kind == DependencyKind::Redis {
                checker
                    .error(
                        codes::NOT_APPLICABLE,
                        &bpath.key("method"),
                        "Redis backups are RDB snapshots; `method` applies to PostgreSQL",
                    )
                    .with_help("remove `method`");
            }
            if backup.recovery_point.is_some() && backup.method != Some(BackupMethod::Physical) {
                checker
                    .error(
                        codes::CONTRADICTION,
                        &bpath.key("recovery_point"),
                        "a recovery point needs continuous WAL archiving",
                    )
                    .with_help("set `method: physical`; logical dumps only recover to the moment of the last dump");
            }
            if backup.recovery_point.is_some_and(|d| d.0.is_zero()) {
                checker
                    .error(codes::OUT_OF_RANGE, &bpath.key("recovery_point"), "a recovery point of 0 is not achievable")
                    .with_help("use minutes, such as `5m`");
            }
            if backup.encryption_key.is_some() && backup.method == Some(BackupMethod::Physical) {
                checker
                    .error(
                        codes::NOT_APPLICABLE,
                        &bpath.key("encryption_key"),
                        "berth encrypts logical dumps, Redis snapshots and volumes; a physical backup's base backup and WAL archive are written by PostgreSQL's own tools, unencrypted",
                    )
                    .with_help(
                        "use `method: logical`, or remove `encryption_key` and encrypt at the destination (a bucket's server-side encryption with your own key)",
                    );
            }
            retention_and_destination(backup, &bpath, checker);
        }
    }
}

/// What every backup policy, a dependency's or a volume's, must get right.
pub(crate) fn retention_and_destination(backup: &crate::model::Backup, bpath: &Path, checker: &mut Checker<'_>) {
    if backup.retain.daily == 0 && backup.retain.weekly == 0 && backup.retain.monthly == 0 {
        checker
            .error(codes::CONTRADICTION, &bpath.key("retain"), "the retention keeps no backups")
            .with_help("keep at least one, such as `daily: 7`");
    }
    destination(&backup.to, &bpath.key("to"), checker);
}

/// PostgreSQL's default `max_connections` and `superuser_reserved_connections`.
const DEFAULT_MAX_CONNECTIONS: u32 = 100;
const DEFAULT_SUPERUSER_RESERVED: u32 = 3;
/// Direct connections a pooled database should keep free: a backup's
/// parallel dump, a migration, monitoring.
const DIRECT_HEADROOM: u32 = 5;

/// A pooler's server connections must fit the server's `max_connections`
/// (after the connections reserved for superusers), with room left for
/// what connects directly.
fn pooler_budget(name: &str, dep: &Dependency, pooler: &Pooler, path: &Path, checker: &mut Checker<'_>) {
    let ppath = path.key("pooler");
    let pool = pooler.pool_size.unwrap_or(crate::model::DEFAULT_POOL_SIZE);
    if pooler.pool_size == Some(0) {
        checker
            .error(codes::OUT_OF_RANGE, &ppath.key("pool_size"), "a pool of 0 server connections serves nothing")
            .with_help("use at least 1; the default is 20");
        return;
    }
    if pooler.max_clients == Some(0) {
        checker
            .error(codes::OUT_OF_RANGE, &ppath.key("max_clients"), "a pooler that accepts 0 clients serves nothing")
            .with_help("use at least 1; the default is 1000");
    }
    // A setting that is not a whole number is PostgreSQL's to refuse; the
    // budget is judged only on what can be read.
    let setting = |key: &str, default: u32| match dep.settings.get(key) {
        None => Some(default),
        Some(v) => v.trim().parse::<u32>().ok(),
    };
    let (Some(max), Some(reserved)) = (
        setting("max_connections", DEFAULT_MAX_CONNECTIONS),
        setting("superuser_reserved_connections", DEFAULT_SUPERUSER_RESERVED),
    ) else {
        return;
    };
    let reserved = reserved + setting("reserved_connections", 0).unwrap_or(0);
    let available = max.saturating_sub(reserved);
    let origin = if dep.settings.contains_key("max_connections") { "" } else { " (PostgreSQL's default)" };
    if pool > available {
        checker
            .error(
                codes::CONTRADICTION,
                &ppath.key("pool_size"),
                format!(
                    "the pooler opens up to {pool} server connections, but `{name}` accepts {available}: max_connections {max}{origin}, {reserved} reserved for superusers"
                ),
            )
            .with_help(format!(
                "lower `pool_size`, or raise `settings.max_connections` to at least {}",
                pool + reserved + DIRECT_HEADROOM
            ));
    } else if available - pool < DIRECT_HEADROOM {
        checker
            .report(
                codes::CONTRADICTION,
                Severity::Warning,
                &ppath.key("pool_size"),
                Anchor::Value,
                format!(
                    "the pooler's {pool} server connections leave {} of `{name}`'s {available} for direct connections (backups, migrations, monitoring)",
                    available - pool
                ),
            )
            .with_help(format!(
                "keep at least {DIRECT_HEADROOM} free: lower `pool_size`, or raise `settings.max_connections` to {}",
                pool + reserved + DIRECT_HEADROOM
            ));
    }
}

/// Role names PostgreSQL reserves, besides every `pg_` name; `postgres`
/// is the server's own superuser, which the services never connect as.
const RESERVED_ROLES: [&str; 6] = ["postgres", "public", "none", "current_user", "session_user", "current_role"];

/// A name the spec does not write but berth derives (the role from the
/// project, the database from the dependency) that PostgreSQL reserves:
/// underlined at the dependency, the help naming the key to set.
fn defaulted_name(checker: &mut Checker<'_>, path: &Path, message: String, help: &str) {
    checker.report(codes::INVALID_NAME, Severity::Error, path, Anchor::Key, message).with_help(help);
}

/// The role defaults to the project's name: a project named `postgres`
/// (or `pg_...`) would make the services' role the server's superuser, or
/// a name CREATE ROLE refuses.
fn default_role(spec: &Spec, dep: &Dependency, path: &Path, checker: &mut Checker<'_>) {
    let name = spec.name.to_ascii_lowercase();
    if dep.kind == DependencyKind::Postgres
        && dep.user.is_none()
        && (name.starts_with("pg_") || RESERVED_ROLES.contains(&name.as_str()))
    {
        defaulted_name(
            checker,
            path,
            format!("the services' role would be `{}`, the project's name, which PostgreSQL reserves", spec.name),
            "set `user:` to the app's role, such as `app`; `postgres` is the server's own superuser",
        );
    }
}

/// PostgreSQL settings that decide who can reach the server and what it
/// runs: a spec's value would come after berth's own and win.
const BERTH_OWNED_SETTINGS: [&str; 13] = [
    "listen_addresses",
    "port",
    "unix_socket_directories",
    "unix_socket_permissions",
    "unix_socket_group",
    "hba_file",
    "ident_file",
    "config_file",
    "data_directory",
    "archive_command",
    "archive_library",
    "restore_command",
    "ssl",
];

/// PostgreSQL's limit on an identifier (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// Names and settings berth writes into configuration files (`pgbouncer.ini`,
/// `postgresql.conf`, `redis.conf`), connection URLs and SQL. A newline in
/// one would be a second directive nobody reviewed (`archive_command` runs
/// a shell), so only plain names and single-line values get through.
fn identifiers(dep: &Dependency, path: &Path, checker: &mut Checker<'_>) {
    let plain = |name: &str| {
        !name.is_empty()
            && name.len() <= MAX_IDENTIFIER
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    for (key, value) in [("database", &dep.database), ("user", &dep.user)] {
        if let Some(name) = value
            && !plain(name)
        {
            checker
                .error(codes::INVALID_NAME, &path.key(key), format!("`{}` is not a plain PostgreSQL name", shown(name)))
                .with_help(format!("use 1-{MAX_IDENTIFIER} letters, digits, `_` or `-`"));
        }
    }
    // Role names PostgreSQL reserves (CREATE ROLE refuses them), and a
    // leading `-`, which a client program would read as an option.
    if let Some(user) = &dep.user
        && (user.starts_with("pg_")
            || user.starts_with('-')
            || RESERVED_ROLES.contains(&user.to_ascii_lowercase().as_str()))
    {
        checker
            .error(codes::INVALID_NAME, &path.key("user"), format!("`{user}` is a name PostgreSQL reserves for roles"))
            .with_help("name the role after the app, such as `shop`; `postgres` is the server's own superuser");
    }
    // `postgres` is the superuser's own database: owning it (berth makes the
    // app own its database) lets the app plant functions in the search path
    // of every superuser session. Templates are copied into new databases.
    const SERVER_DATABASES: [&str; 3] = ["postgres", "template0", "template1"];
    if let Some(database) = &dep.database
        && (database.starts_with('-') || SERVER_DATABASES.contains(&database.as_str()))
    {
        checker
            .error(codes::INVALID_NAME, &path.key("database"), format!("`{database}` cannot be the app's database"))
            .with_help("name the database after the app, such as `shop`");
    }
    let name = match path.0.last() {
        Some(crate::path::Segment::Key(k)) => k.as_str(),
        _ => "",
    };
    if dep.kind == DependencyKind::Postgres && dep.database.is_none() && SERVER_DATABASES.contains(&name) {
        defaulted_name(
            checker,
            path,
            format!("the app's database would be `{name}`, the dependency's name, which is the server's own"),
            "set `database:` to the app's name, such as `database: shop`",
        );
    }
    for (i, extension) in dep.extensions.iter().enumerate() {
        if !plain(extension) {
            checker
                .error(
                    codes::INVALID_NAME,
                    &path.key("extensions").index(i),
                    format!("`{}` is not an extension name", shown(extension)),
                )
                .with_help("write the name `CREATE EXTENSION` takes, such as `pgcrypto` or `uuid-ossp`");
        }
    }
    for (key, value) in &dep.settings {
        let setting = path.key("settings").key(key);
        if dep.kind == DependencyKind::Postgres && BERTH_OWNED_SETTINGS.contains(&key.as_str()) {
            checker
                .report(
                    codes::NOT_APPLICABLE,
                    Severity::Error,
                    &setting,
                    Anchor::Key,
                    format!("`{key}` is berth's to set: it decides who can reach the server and where its files are"),
                )
                .with_help("remove it; berth listens on loopback (or the pod network), writes pg_hba itself and archives WAL for physical backups");
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            checker
                .report(
                    codes::INVALID_NAME,
                    Severity::Error,
                    &setting,
                    Anchor::Key,
                    format!("`{}` is not a setting name", shown(key)),
                )
                .with_help("write the server's own name for it, such as `max_connections` or `maxmemory-samples`");
        }
        if value.chars().any(char::is_control) {
            checker
                .error(
                    codes::INVALID_VALUE,
                    &setting,
                    format!("the value of `{}` holds a control character (a line break?)", shown(key)),
                )
                .with_help("a setting is one line; a line break would start another directive in the server's configuration file");
        }
    }
}

/// A name as written, its control characters escaped so the message stays
/// on one line.
fn shown(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

fn not_applicable(dep: &Dependency, path: &Path, checker: &mut Checker<'_>) {
    let (set, other): (Vec<(&str, bool)>, &str) = match dep.kind {
        DependencyKind::Redis => (
            vec![
                ("database", dep.database.is_some()),
                ("user", dep.user.is_some()),
                ("extensions", !dep.extensions.is_empty()),
                ("pooler", dep.pooler.is_some()),
            ],
            "PostgreSQL",
        ),
        DependencyKind::Postgres => (
            vec![
                ("maxmemory", dep.maxmemory.is_some()),
                ("maxmemory_policy", dep.maxmemory_policy.is_some()),
                ("persistence", dep.persistence.is_some()),
            ],
            "Redis",
        ),
    };
    foreign_keys(&set, "", other, dep.kind, path, "remove it, or change `kind`", checker);
}

/// Reports each key of `set` that is present: a setting of the `other`
/// kind of dependency (`prefix` names the section it sits in).
fn foreign_keys(
    set: &[(&str, bool)],
    prefix: &str,
    other: &str,
    kind: DependencyKind,
    path: &Path,
    help: &str,
    checker: &mut Checker<'_>,
) {
    for &(key, _) in set.iter().filter(|(_, present)| *present) {
        checker
            .report(
                codes::NOT_APPLICABLE,
                Severity::Error,
                &path.key(key),
                Anchor::Key,
                format!("`{prefix}{key}` is a {other} setting, but this dependency is `{}`", kind.as_str()),
            )
            .with_help(help);
    }
}

/// RDS for PostgreSQL's read replicas per source instance.
const MAX_READ_REPLICAS: u32 = 5;

/// ElastiCache's replication group without cluster mode: a primary and up to five replicas.
const MAX_CACHE_NODES: u32 = 6;

fn managed(m: &Managed, kind: DependencyKind, path: &Path, checker: &mut Checker<'_>) {
    let (set, other): (Vec<(&str, bool)>, &str) = match kind {
        DependencyKind::Postgres => {
            (vec![("node_type", m.node_type.is_some()), ("nodes", m.nodes.is_some())], "Redis (ElastiCache)")
        }
        DependencyKind::Redis => (
            vec![
                ("instance_class", m.instance_class.is_some()),
                ("storage_type", m.storage_type.is_some()),
                ("iops", m.iops.is_some()),
                ("multi_az", m.multi_az.is_some()),
                ("read_replicas", m.read_replicas.is_some()),
            ],
            "PostgreSQL (RDS)",
        ),
    };
    let help = match kind {
        DependencyKind::Postgres => {
            "size RDS with `instance_class`, `storage_type`, `iops`, `multi_az` and `read_replicas`"
        }
        DependencyKind::Redis => "size ElastiCache with `node_type` and `nodes`",
    };
    foreign_keys(&set, "managed.", other, kind, path, help, checker);
    if let Some(class) = &m.instance_class
        && (!class.starts_with("db.") || class.split('.').count() != 3 || class.split('.').any(str::is_empty))
    {
        checker
            .error(codes::INVALID_VALUE, &path.key("instance_class"), format!("`{class}` is not an RDS instance class"))
            .with_help("write one such as `db.t4g.medium` or `db.r6g.large`");
    }
    if let Some(node) = &m.node_type
        && (!node.starts_with("cache.") || node.split('.').count() != 3 || node.split('.').any(str::is_empty))
    {
        checker
            .error(codes::INVALID_VALUE, &path.key("node_type"), format!("`{node}` is not an ElastiCache node type"))
            .with_help("write one such as `cache.t4g.small` or `cache.r6g.large`");
    }
    if let Some(n) = m.read_replicas
        && n > MAX_READ_REPLICAS
    {
        checker
            .error(
                codes::OUT_OF_RANGE,
                &path.key("read_replicas"),
                format!("{n} read replicas; RDS allows up to {MAX_READ_REPLICAS}"),
            )
            .with_help("RDS for PostgreSQL has at most 5 read replicas per source instance (15 with Aurora)");
    }
    if let Some(nodes) = m.nodes
        && !(1..=MAX_CACHE_NODES).contains(&nodes)
    {
        checker
            .error(codes::OUT_OF_RANGE, &path.key("nodes"), format!("{nodes} nodes is outside 1 to {MAX_CACHE_NODES}"))
            .with_help("a replication group has a primary and up to five replicas");
    }
    if kind == DependencyKind::Postgres {
        match (m.storage_type, m.iops) {
            (Some(t @ (StorageType::Io1 | StorageType::Io2)), None) => {
                checker
                    .error(
                        codes::MISSING_SETTING,
                        &path.key("storage_type"),
                        format!("`{}` storage needs provisioned IOPS", t.as_str()),
                    )
                    .with_help("add `iops`, such as `iops: 3000`");
            }
            (Some(StorageType::Gp2), Some(_)) => {
                checker
                    .error(codes::CONTRADICTION, &path.key("iops"), "`gp2` storage has no provisioned IOPS")
                    .with_help("its IOPS follow its size; use `gp3` or `io2` to set them");
            }
            (_, Some(0)) => {
                checker.error(codes::OUT_OF_RANGE, &path.key("iops"), "0 IOPS is not a setting RDS accepts");
            }
            _ => {}
        }
    }
}

fn destination(to: &str, path: &Path, checker: &mut Checker<'_>) {
    if to.trim().is_empty() {
        checker
            .error(codes::MISSING_SETTING, path, "the backup destination is empty")
            .with_help("name a directory or an `s3://bucket/prefix` URL");
        return;
    }
    if let Some((scheme, rest)) = to.split_once("://") {
        if !BACKUP_SCHEMES.contains(&scheme) {
            checker
                .error(codes::INVALID_VALUE, path, format!("berth cannot write backups to `{scheme}://`"))
                .with_help(format!(
                    "use a directory or one of: {}",
                    BACKUP_SCHEMES.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(", ")
                ));
        } else if scheme != "file" && rest.split('/').next().is_none_or(str::is_empty) {
            checker
                .error(codes::MISSING_SETTING, path, format!("`{to}` names no bucket"))
                .with_help(format!("write `{scheme}://<bucket>/<prefix>`"));
        }
    }
}
