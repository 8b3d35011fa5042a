use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{ByteSize, Duration, Schedule};
use super::{Resources, SecretRef};

/// A stateful dependency berth runs and wires in: PostgreSQL or Redis.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// `postgres` or `redis`.
    pub kind: DependencyKind,
    /// Server major version (`16`, `7.2`). Default: PostgreSQL 16, Redis 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Password, by secret reference: `{ secret: db-password }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    /// PostgreSQL: database name. Default: the dependency's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// PostgreSQL: role the services connect as. Default: the project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// PostgreSQL: extensions to create, such as `timescaledb` or `pgcrypto`.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Server settings: `postgresql.conf` parameters for PostgreSQL
    /// (`max_connections: 200`, `shared_buffers: 256MB`), `redis.conf`
    /// directives for Redis.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Redis: memory limit for data (`maxmemory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmemory: Option<ByteSize>,
    /// Redis: what to evict at `maxmemory`. Default `noeviction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmemory_policy: Option<EvictionPolicy>,
    /// Redis: `none`, `rdb` (snapshots), `aof` (append-only log) or `both`.
    /// Default `rdb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
    /// Disk for the data directory. Default `10Gi` (PostgreSQL), `1Gi` (Redis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<ByteSize>,
    /// CPU and memory for the server.
    #[serde(default)]
    pub resources: Resources,
    /// Environment variable that carries the connection URL into services.
    /// Default `DATABASE_URL` (PostgreSQL) or `REDIS_URL` (Redis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// Scheduled backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
    /// The managed service a cloud target runs this dependency on: RDS for
    /// PostgreSQL, ElastiCache for Redis (the `cloudformation` target).
    /// Targets that run the server themselves ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<Managed>,
    /// PostgreSQL: PgBouncer in front of the server. Services then reach the
    /// database through it (their URL names `<dependency>-pooler:6432`),
    /// and get the server's own address in `<url_env>_DIRECT` for what
    /// transaction pooling breaks (migrations that take advisory locks,
    /// `LISTEN`, session settings). Backups always connect directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooler: Option<Pooler>,
}

/// PgBouncer settings: `{ mode: transaction, pool_size: 20 }`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pooler {
    /// When a server connection goes back to the pool: `transaction` (after
    /// each transaction: many clients share few connections) or `session`
    /// (when the client disconnects: every session feature works).
    /// Default `transaction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<PoolMode>,
    /// Server connections PgBouncer opens to the database, at most
    /// (`default_pool_size`). They count against the server's
    /// `max_connections`, which must leave room for them and for direct
    /// connections (backups, migrations). Default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<u32>,
    /// Client connections PgBouncer accepts, at most (`max_client_conn`):
    /// the sum of every replica's own pool. Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_clients: Option<u32>,
    /// CPU and memory for PgBouncer.
    #[serde(default)]
    pub resources: Resources,
}

/// PgBouncer's server connections unless the spec says otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 20;
/// PgBouncer's client connections unless the spec says otherwise.
pub const DEFAULT_MAX_CLIENTS: u32 = 1000;
/// The port PgBouncer listens on.
pub const POOLER_PORT: u16 = 6432;

/// PgBouncer's `pool_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    Session,
    Transaction,
}

impl PoolMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Transaction => "transaction",
        }
    }
}

/// Sizing of a managed database or cache: `{ instance_class: db.r6g.large,
/// storage_type: gp3, multi_az: true }` for PostgreSQL, `{ node_type:
/// cache.r6g.large, nodes: 2 }` for Redis. Unset keys are derived from the
/// dependency: the instance or node is the smallest standard one that fits
/// `resources` (the limits, else the requests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Managed {
    /// PostgreSQL: the RDS instance class, such as `db.r6g.large`. Default:
    /// the smallest of `db.t4g.micro` to `db.t4g.large` and `db.r6g.large`
    /// to `db.r6g.16xlarge` with the vCPUs and memory of `resources`,
    /// counting 4Gi when it names no memory. A `shared_buffers` setting as
    /// large as the class's memory is warned about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_class: Option<String>,
    /// PostgreSQL: the RDS storage type: `gp3`, `gp2`, `io1` or `io2`.
    /// Default `gp3`. Its size is the dependency's `storage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<StorageType>,
    /// PostgreSQL: provisioned IOPS. Required with `io1` and `io2`; with
    /// `gp3`, RDS's baseline applies without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// PostgreSQL: keep a synchronous standby in a second availability zone
    /// that RDS fails over to. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Redis: the ElastiCache node type, such as `cache.r6g.large`. Default:
    /// the smallest of `cache.t4g.micro` to `cache.t4g.medium` and
    /// `cache.r6g.large` to `cache.r6g.16xlarge` with the memory of
    /// `resources`, and room for `maxmemory` beside the 25% ElastiCache
    /// reserves; `cache.t4g.small` when they name no memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type: Option<String>,
    /// Redis: nodes in the replication group, 1 to 6: a primary and up to
    /// five replicas. More than one turns on automatic failover across
    /// availability zones. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    /// PostgreSQL: RDS read replicas of the instance, 0 to 5, each of the
    /// same class, for read-only queries (their endpoints are stack
    /// outputs; services still get the primary's URL). Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_replicas: Option<u32>,
}

/// An RDS storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    Gp3,
    Gp2,
    Io1,
    Io2,
}

impl StorageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gp3 => "gp3",
            Self::Gp2 => "gp2",
            Self::Io1 => "io1",
            Self::Io2 => "io2",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    Postgres,
    Redis,
}

impl DependencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis => "redis",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EvictionPolicy {
    Noeviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Persistence {
    None,
    Rdb,
    Aof,
    Both,
}

/// A backup policy. `berth backup` runs it; every target schedules it the
/// same way and proves each backup restorable.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// When to take a backup (cron, in UTC): the rendered timers and
    /// CronJobs, and `berth up` while it runs (output in
    /// `.berth/<env>/logs/backup-<name>.log`).
    pub schedule: Schedule,
    /// PostgreSQL: `logical` (pg_dump) or `physical` (base backup plus WAL
    /// archiving, for point-in-time recovery). Default `logical`. Redis
    /// always takes an RDB snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<BackupMethod>,
    /// Where backups go: a directory, `file://`, `s3://bucket/prefix`,
    /// `gs://bucket/prefix` or `az://container/prefix`.
    pub to: String,
    /// How many backups to keep.
    #[serde(default)]
    pub retain: Retention,
    /// Physical backups: the most data you accept to lose, which bounds
    /// how long a WAL segment may wait before it is archived. Default `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point: Option<Duration>,
    /// Restore every backup into a scratch instance and compare before
    /// calling it good. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<bool>,
    /// Secret whose value signs each backup's manifest (HMAC-SHA256):
    /// `{ secret: backup-signing-key }`. Verification and restores then
    /// refuse a manifest that is unsigned or does not match, so whoever can
    /// write to the destination cannot pass off other data with recomputed
    /// checksums. Without it, verification proves a backup intact and
    /// restorable, not that berth wrote it. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<SecretRef>,
    /// A secret holding an age identity (`AGE-SECRET-KEY-1...`, from
    /// `age-keygen`), `{ secret: backup-age-key }`. Every file a backup
    /// stores (a volume's archive, a logical dump's files, a Redis
    /// snapshot) is encrypted to its public key before it leaves the
    /// machine; verification and restores decrypt with it and refuse a
    /// backup that is not encrypted to it. Not with `method: physical`
    /// (PostgreSQL's own tools write the base backup and the WAL archive).
    /// Keep a copy of the key outside the machine: without it no backup
    /// restores. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<SecretRef>,
}

// How a backup is taken: the one type for it from the spec (`method:`)
// through the plan (`BackupJob::method`) to a backup's manifest. Plain
// comments here, not doc comments: those would change the generated
// schema (a description, and variants listed one by one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupMethod {
    // `pg_dump`, directory format, every file compressed with zstd.
    Logical,
    // `pg_basebackup` (tar, zstd) plus archived WAL.
    Physical,
    // A Redis RDB snapshot, compressed with zstd. Not a spelling the spec
    // accepts (Redis always snapshots): the plan resolves it, manifests
    // record it and read it back with `BackupMethod::deserialize_recorded`.
    #[serde(skip_deserializing)]
    Snapshot,
    // A volume's files as one tar archive, compressed with zstd. Like
    // `Snapshot`, never spelled in a spec (volumes have one method).
    #[serde(skip_deserializing)]
    Archive,
}

impl BackupMethod {
    /// Every method, in declaration order.
    pub const ALL: [Self; 4] = [Self::Logical, Self::Physical, Self::Snapshot, Self::Archive];

    /// The name in specs, plans and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logical => "logical",
            Self::Physical => "physical",
            Self::Snapshot => "snapshot",
            Self::Archive => "archive",
        }
    }

    /// The method named `name` (any of the three); `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Deserializes any method, `snapshot` included, for records berth
    /// writes itself (a backup's manifest): use it as the field's
    /// `#[serde(deserialize_with)]`. The derived `Deserialize` accepts
    /// only what a spec may say.
    pub fn deserialize_recorded<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).ok_or_else(|| {
            <D::Error as serde::de::Error>::unknown_variant(&name, &["logical", "physical", "snapshot", "archive"])
        })
    }
}

impl std::fmt::Display for BackupMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Backups to keep: the newest of each day, week and month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Daily backups to keep. Default 7.
    #[serde(default = "default_daily")]
    pub daily: u32,
    /// Weekly backups to keep. Default 4.
    #[serde(default = "default_weekly")]
    pub weekly: u32,
    /// Monthly backups to keep. Default 6.
    #[serde(default = "default_monthly")]
    pub monthly: u32,
}

fn default_daily() -> u32 {
    7
}
fn default_weekly() -> u32 {
    4
}
fn default_monthly() -> u32 {
    6
}

impl Default for Retention {
    fn default() -> Self {
        Self { daily: default_daily(), weekly: default_weekly(), monthly: default_monthly() }
    }
}

/// The environment variable a dependency's URL goes into: `url_env` when
/// set, else `DATABASE_URL` (PostgreSQL) or `REDIS_URL` (Redis).
pub fn url_env(url_env: Option<&str>, kind: DependencyKind) -> String {
    url_env.map_or_else(
        || match kind {
            DependencyKind::Postgres => "DATABASE_URL".to_owned(),
            DependencyKind::Redis => "REDIS_URL".to_owned(),
        },
        str::to_owned,
    )
}
