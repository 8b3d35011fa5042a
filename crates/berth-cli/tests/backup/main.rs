//! `berth backup`, `verify`, `restore` and `prune` end to end: real
//! PostgreSQL and Redis started by `berth up` on loopback, a few hundred
//! thousand rows across indexed tables, corrupted copies that verification
//! must reject, a point-in-time recovery between two writes (also from a
//! server with raised connection limits), a hole in the WAL archive,
//! signed manifests, retention, and object storage servers on loopback as
//! destinations (`object_store.rs`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests spawn the real binaries and fail loudly"
)]

mod object_store;
mod volume;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_test_support::read_json;
use serde_json::Value;

const PASSWORD: &str = "s3cret pw/1";
const CACHE_PASSWORD: &str = "cache:pw@1";

fn berth_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env("BERTH_SECRET_DB_PASSWORD", PASSWORD)
        .env("BERTH_SECRET_CACHE_PASSWORD", CACHE_PASSWORD)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn berth(dir: &Path, args: &[&str]) -> Output {
    berth_with(dir, args, &[])
}

fn ok(out: Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "berth failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    stdout.into_owned()
}

/// A verification that found the backup wrong: exit 4, as documented.
fn verification_failed(out: Output) -> String {
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    failed(out)
}

fn failed(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "berth succeeded where it must fail\nstdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// A stack started with `berth up -d`; `berth down` (or a kill) on drop.
struct Stack {
    dir: PathBuf,
    supervisor: u32,
}

impl Stack {
    fn up(dir: &Path) -> Self {
        ok(berth(dir, &["up", "-d", "berth.yaml"]));
        Self::up_existing(dir)
    }

    /// The stack a `berth up -d` already started in `dir`.
    fn up_existing(dir: &Path) -> Self {
        let state = read_json(&dir.join(".berth/base/state.json"));
        Self { dir: dir.to_path_buf(), supervisor: u32::try_from(state["supervisor"].as_u64().unwrap()).unwrap() }
    }

    fn port(&self, service: &str) -> u16 {
        berth_test_support::replica_port(&read_json(&self.dir.join(".berth/base/state.json")), service)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = berth(&self.dir, &["down"]);
        let _ = Command::new("kill").arg(self.supervisor.to_string()).status();
    }
}

/// psql as the stack's role; returns the unaligned, tuples-only output.
fn psql(port: u16, database: &str, sql: &str) -> String {
    let out = Command::new(berth_test_support::tool("psql"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "shop", "-d", database])
        .args(["-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Forces a WAL segment switch as the server's superuser, over its socket,
/// as an operator would: berth up's app role is no superuser and may not.
fn switch_wal(dir: &Path, port: u16) {
    let sockets = dir.join(".berth/base/deps/db/run");
    let out = Command::new(berth_test_support::tool("psql"))
        .args(["-h", &sockets.display().to_string(), "-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
        .args(["-v", "ON_ERROR_STOP=1", "-qAtX", "-c", "SELECT pg_switch_wal()"])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new(berth_test_support::tool("redis-cli"))
        .args(["-p", &port.to_string()])
        .args(args)
        .env("REDISCLI_AUTH", CACHE_PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "redis-cli: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Realistic rows: random text, JSON, UUIDs and timestamps, with indexes.
const SCHEMA: &str = "
CREATE TABLE customers (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, name text, created_at timestamptz NOT NULL);
CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), customer_id bigint REFERENCES customers, total numeric(12,2), items jsonb, placed_at timestamptz NOT NULL);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_placed ON orders (placed_at);
CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, payload jsonb, at timestamptz DEFAULT now());
CREATE INDEX events_kind ON events (kind, at);
INSERT INTO customers (email, name, created_at)
  SELECT 'user' || i || '@example.com', md5(random()::text), now() - (i || ' minutes')::interval FROM generate_series(1, 50000) i;
INSERT INTO orders (customer_id, total, items, placed_at)
  SELECT 1 + (i % 50000), round((random() * 500)::numeric, 2),
         jsonb_build_object('sku', md5(i::text), 'qty', i % 7, 'note', md5(random()::text)), now() - (i || ' seconds')::interval
  FROM generate_series(1, 200000) i;
INSERT INTO events (kind, payload)
  SELECT (ARRAY['login','view','buy'])[1 + i % 3], jsonb_build_object('n', i, 'r', random()) FROM generate_series(1, 100000) i;";

fn write_spec(dir: &Path, method: &str, to: &str, retain: &str) {
    write_spec_with(dir, method, to, retain, Extra::default());
}

/// Lines [`write_spec_with`] adds, each indented for its place.
#[derive(Default)]
struct Extra<'a> {
    /// Under `secrets:`.
    secrets: &'a str,
    /// Under `dependencies.db`.
    db: &'a str,
    /// Under `dependencies.db.backup`.
    backup: &'a str,
    /// Under `dependencies.cache.backup`.
    cache_backup: &'a str,
}

fn write_spec_with(dir: &Path, method: &str, to: &str, retain: &str, extra: Extra<'_>) {
    let Extra { secrets, db, backup, cache_backup } = extra;
    let spec = format!(
        r#"version: 1
name: shop
services:
  worker:
    run: {{ command: ["sleep", "100000"] }}
    uses: [db, cache]
secrets:
  db-password: {{}}
  cache-password: {{}}
{secrets}dependencies:
  db:
    kind: postgres
    version: "15"
    database: shop
    password: {{ secret: db-password }}
{db}    backup:
      schedule: "0 3 * * *"
      method: {method}
      to: {to}{rpo}
      retain: {retain}
{backup}  cache:
    kind: redis
    password: {{ secret: cache-password }}
    backup:
      schedule: "0 * * * *"
      to: {to}
{cache_backup}"#,
        rpo = if method == "physical" { "\n      recovery_point: 1m" } else { "" }
    );
    std::fs::write(dir.join("berth.yaml"), spec).unwrap();
}

/// A directory the `postgres` user can reach (scratch servers run as it
/// when the tests run as root).
fn reachable_temp_dir() -> berth_test_support::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = berth_test_support::temp_dir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn counts(manifest: &Value) -> Vec<(String, u64)> {
    manifest["counts"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect()
}

/// Copies a backup under a new id and lets `damage` change the copy.
fn tampered_copy(backups: &Path, id: &str, suffix: &str, damage: impl Fn(&Path)) -> String {
    let copy = format!("{id}-{suffix}");
    let (from, to) = (backups.join(id), backups.join(&copy));
    std::fs::create_dir_all(&to).unwrap();
    for entry in walk(&from) {
        let target = to.join(entry.strip_prefix(&from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    let _ = std::fs::remove_file(to.join("verification.json"));
    let mut manifest = read_json(&to.join("manifest.json"));
    manifest["id"] = Value::String(copy.clone());
    std::fs::write(to.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    damage(&to);
    copy
}

/// Flips one bit in the middle of the biggest file under `dir` whose
/// extension is `extension`.
fn flip_a_byte_of_the_biggest(dir: &Path, extension: &str) {
    let biggest = walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .max_by_key(|p| p.metadata().unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&biggest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&biggest, bytes).unwrap();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn logical_backups_verify_reject_corruption_and_restore_into_a_scratch_database() {
    let dir = reachable_temp_dir();
    write_spec(dir.path(), "logical", "./backups", "{ daily: 7 }");
    let stack = Stack::up(dir.path());
    let db = stack.port("db");
    psql(db, "shop", SCHEMA);

    let manifests: Value = serde_json::from_str(&ok(berth(dir.path(), &["backup", "db", "-o", "json"]))).unwrap();
    let manifest = &manifests[0];
    let id = manifest["id"].as_str().unwrap().to_owned();
    assert_eq!(manifest["method"], "logical");
    assert_eq!(manifest["kind"], "postgres");
    assert!(manifest["server_version"].as_str().unwrap().starts_with(char::is_numeric), "{manifest}");
    assert_eq!(
        counts(manifest),
        vec![
            ("public.customers".to_owned(), 50_000),
            ("public.events".to_owned(), 100_000),
            ("public.orders".to_owned(), 200_000)
        ]
    );
    let files = manifest["files"].as_array().unwrap();
    assert!(files.iter().any(|f| f["name"] == "dump/toc.dat.zst"), "{manifest}");
    assert!(files.iter().all(|f| f["sha256"].as_str().unwrap().len() == 64));
    let backups = dir.path().join("backups/db/backups");
    assert!(backups.join(&id).join("manifest.json").is_file());

    // Verify: a scratch server, the same counts, a record of it.
    let verified: Value =
        serde_json::from_str(&ok(berth(dir.path(), &["backup", "verify", "db", &id, "-o", "json"]))).unwrap();
    assert_eq!(counts(&verified[0]), counts(manifest));
    assert!(backups.join(&id).join("verification.json").is_file());

    // A flipped byte in one data file: the checksum catches it.
    let flipped = tampered_copy(&backups, &id, "flipped", |copy| flip_a_byte_of_the_biggest(copy, "zst"));
    let err = verification_failed(berth(dir.path(), &["backup", "verify", "db", &flipped]));
    assert!(err.contains("failed verification") && err.contains("sha256"), "{err}");
    assert!(!backups.join(&flipped).join("verification.json").exists());

    // A truncated file: the size catches it.
    let truncated = tampered_copy(&backups, &id, "truncated", |copy| {
        let toc = copy.join("dump/toc.dat.zst");
        let bytes = std::fs::read(&toc).unwrap();
        std::fs::write(&toc, &bytes[..bytes.len() / 2]).unwrap();
    });
    let err = failed(berth(dir.path(), &["backup", "verify", "db", &truncated]));
    assert!(err.contains("dump/toc.dat.zst") && err.contains("bytes"), "{err}");

    // A manifest that promises a row the dump does not hold.
    let short = tampered_copy(&backups, &id, "short", |copy| {
        let mut m = read_json(&copy.join("manifest.json"));
        m["counts"]["public.orders"] = Value::from(200_001);
        std::fs::write(copy.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    });
    let err = failed(berth(dir.path(), &["backup", "verify", "db", &short]));
    assert!(err.contains("table `public.orders`: 200000 restored, the backup holds 200001"), "{err}");

    // A backup without a manifest is incomplete, and says so.
    let partial =
        tampered_copy(&backups, &id, "partial", |copy| std::fs::remove_file(copy.join("manifest.json")).unwrap());
    let err = failed(berth(dir.path(), &["backup", "verify", "db", &partial]));
    assert!(err.contains("incomplete"), "{err}");
    let listing = ok(berth(dir.path(), &["backup", "list", "db"]));
    assert!(listing.contains(&partial) && listing.contains("incomplete (no manifest)"), "{listing}");

    // Restore into a scratch database on the live server and compare.
    let out = ok(berth(dir.path(), &["restore", "db", &id]));
    let scratch = format!("shop_restore_{}", id.to_lowercase());
    assert!(out.contains(&scratch) && out.contains("nothing live changed"), "{out}");
    for table in ["customers", "orders", "events"] {
        let sql = format!("SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t");
        assert_eq!(psql(db, &scratch, &sql), psql(db, "shop", &sql), "{table} differs after restore");
    }
    let indexes = "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'";
    assert_eq!(psql(db, &scratch, indexes), psql(db, "shop", indexes));

    // --replace without a terminal and without --yes changes nothing.
    psql(db, "shop", "DELETE FROM events WHERE id % 2 = 0");
    let err = failed(berth(dir.path(), &["restore", "db", &id, "--replace"]));
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(psql(db, "shop", "SELECT count(*) FROM events"), "50000");
    let out = ok(berth(dir.path(), &["restore", "db", &id, "--yes"]));
    assert!(out.contains("swapped in"), "{out}");
    assert_eq!(psql(db, "shop", "SELECT count(*) FROM events"), "100000");
}

#[test]
fn physical_backups_recover_to_a_moment_between_two_writes() {
    let dir = reachable_temp_dir();
    write_spec(dir.path(), "physical", "./backups", "{ daily: 7 }");
    let stack = Stack::up(dir.path());
    let db = stack.port("db");
    psql(db, "shop", SCHEMA);
    let base: Value = serde_json::from_str(&ok(berth(dir.path(), &["backup", "db", "-o", "json"]))).unwrap();
    let base = &base[0];
    assert_eq!(base["method"], "physical");
    let wal = &base["wal"];
    assert!(
        wal["start_segment"].as_str().unwrap().len() == 24 && wal["start_lsn"].as_str().unwrap().contains('/'),
        "{base}"
    );
    let names: Vec<&str> = base["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["backup_manifest", "base.tar.zst", "pg_wal.tar.zst"]);

    let verified = ok(berth(dir.path(), &["backup", "verify", "db"]));
    assert!(verified.contains("checksums match, 350000 rows in 3 tables"), "{verified}");

    // Two writes after the base backup, a moment between them.
    psql(db, "shop", "INSERT INTO events (kind) VALUES ('before')");
    std::thread::sleep(Duration::from_millis(1500));
    let between = psql(db, "shop", "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || ' UTC'");
    std::thread::sleep(Duration::from_millis(1500));
    psql(db, "shop", "INSERT INTO events (kind) VALUES ('after')");
    let segment = psql(db, "shop", "SELECT pg_walfile_name(pg_current_wal_lsn())");
    switch_wal(dir.path(), db);
    // berth up ships the archived segment to the destination.
    let shipped = dir.path().join(format!("backups/db/wal/{segment}.zst"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !shipped.exists() {
        assert!(Instant::now() < deadline, "{} was never archived", shipped.display());
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = ok(berth(dir.path(), &["restore", "db", "--to-time", &between]));
    assert!(out.contains("replayed to"), "{out}");
    let scratch = format!("shop_restore_{}", base["id"].as_str().unwrap().to_lowercase());
    assert_eq!(
        psql(db, &scratch, "SELECT string_agg(kind, ',') FROM events WHERE kind IN ('before', 'after')"),
        "before"
    );
    assert_eq!(psql(db, &scratch, "SELECT count(*) FROM orders"), "200000");

    // A moment the archive does not reach yet is refused, not half-done.
    let future = "2999-01-01 00:00:00 UTC";
    let err = failed(berth(dir.path(), &["restore", "db", "--to-time", future]));
    assert!(err.contains("does not reach"), "{err}");
    // And one before every base backup has nothing to start from.
    let err = failed(berth(dir.path(), &["restore", "db", "--to-time", "2001-01-01 00:00:00 UTC"]));
    assert!(err.contains("no physical backup"), "{err}");

    ok(berth(dir.path(), &["restore", "db", "--to-time", &between, "--yes"]));
    assert_eq!(
        psql(db, "shop", "SELECT string_agg(kind, ',') FROM events WHERE kind IN ('before', 'after')"),
        "before"
    );
}

#[test]
fn redis_snapshots_restore_keys_and_ttls() {
    let dir = reachable_temp_dir();
    write_spec(dir.path(), "logical", "./backups", "{ daily: 7 }");
    let stack = Stack::up(dir.path());
    let cache = stack.port("cache");
    let mut pipe = String::new();
    for i in 0..20_000 {
        pipe.push_str(&format!("SET key:{i} value-{i}\n"));
    }
    pipe.push_str("HSET user:1 name ada email ada@example.com\nSETEX session:1 3600 token\nSELECT 2\nSET other 1\n");
    let mut child = Command::new(berth_test_support::tool("redis-cli"))
        .args(["-p", &cache.to_string()])
        .env("REDISCLI_AUTH", CACHE_PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), pipe.as_bytes()).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());

    let taken: Value = serde_json::from_str(&ok(berth(dir.path(), &["backup", "cache", "-o", "json"]))).unwrap();
    assert_eq!(taken[0]["method"], "snapshot");
    assert_eq!(taken[0]["counts"], serde_json::json!({ "db0": 20_002, "db2": 1 }));
    let verified = ok(berth(dir.path(), &["backup", "verify", "cache"]));
    assert!(verified.contains("20003 keys in 2 databases"), "{verified}");

    redis_cli(cache, &["FLUSHALL"]);
    redis_cli(cache, &["SET", "stray", "x"]);
    ok(berth(dir.path(), &["restore", "cache", "--yes"]));
    assert_eq!(redis_cli(cache, &["DBSIZE"]), "20002");
    assert_eq!(redis_cli(cache, &["GET", "key:19999"]), "value-19999");
    assert_eq!(redis_cli(cache, &["HGET", "user:1", "email"]), "ada@example.com");
    assert_eq!(redis_cli(cache, &["EXISTS", "stray"]), "0");
    let ttl: i64 = redis_cli(cache, &["TTL", "session:1"]).parse().unwrap();
    assert!((3000..=3600).contains(&ttl), "the TTL was not kept: {ttl}");
    assert_eq!(redis_cli(cache, &["-n", "2", "GET", "other"]), "1");

    // The commands the rendered systemd timer runs, verbatim but for where
    // berth and the spec are installed: back up, verify, prune.
    ok(berth(dir.path(), &["render", "systemd", "--out", "rendered"]));
    let unit = std::fs::read_to_string(dir.path().join("rendered/systemd/shop-backup-cache.service")).unwrap();
    let commands: Vec<&str> = unit.lines().filter_map(|l| l.strip_prefix("ExecStart=")).collect();
    assert_eq!(commands.len(), 3, "{unit}");
    for command in commands {
        let command = command.replace("/etc/shop/berth.yaml", "berth.yaml");
        let mut words = command.split_whitespace();
        assert_eq!(words.next(), Some("/usr/local/bin/berth"), "{command}");
        let args: Vec<&str> = words.collect();
        ok(berth(dir.path(), &args));
    }
    // Retention keeps the newest backup of the day, verified; the first went.
    let listing = ok(berth(dir.path(), &["backup", "list", "cache"]));
    assert_eq!(listing.lines().count(), 2, "{listing}");
    assert!(listing.contains("verified") && !listing.contains(taken[0]["id"].as_str().unwrap()), "{listing}");
}

/// A thousand rows in one table, for the tests that need a real database
/// but not a big one.
const SMALL: &str = "CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, at timestamptz DEFAULT now());
INSERT INTO events (kind) SELECT 'seed' FROM generate_series(1, 1000);";

/// The server's clock, as `--to-time` reads it.
const NOW_UTC: &str = "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || ' UTC'";

/// Waits until `berth up` has shipped `segment` into the local destination.
fn wait_shipped(dir: &Path, segment: &str) {
    let shipped = dir.join(format!("backups/db/wal/{segment}.zst"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !shipped.exists() {
        assert!(Instant::now() < deadline, "{} was never archived", shipped.display());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Closes the segment being written (after a write, so it has one) and
/// waits until it is shipped; returns its name.
fn switch_and_ship(dir: &Path, db: u16, kind: &str) -> String {
    psql(db, "shop", &format!("INSERT INTO events (kind) VALUES ('{kind}')"));
    let segment = psql(db, "shop", "SELECT pg_walfile_name(pg_current_wal_lsn())");
    switch_wal(dir, db);
    wait_shipped(dir, &segment);
    segment
}

#[test]
fn physical_backups_verify_and_recover_when_the_spec_raises_max_connections() {
    // Recovery refuses a server with lower max_connections (and the other
    // limits in pg_control) than the primary: the scratch servers that
    // verify and restore must start with the backup's own, and replay WAL
    // that raises them further.
    let dir = reachable_temp_dir();
    let db_settings = "    settings: { max_connections: \"200\", max_locks_per_transaction: \"128\" }\n";
    write_spec_with(dir.path(), "physical", "./backups", "{ daily: 7 }", Extra { db: db_settings, ..Extra::default() });
    let stack = Stack::up(dir.path());
    let db = stack.port("db");
    assert_eq!(psql(db, "shop", "SHOW max_connections"), "200");
    psql(db, "shop", SMALL);
    let base: Value = serde_json::from_str(&ok(berth(dir.path(), &["backup", "db", "-o", "json"]))).unwrap();
    assert_eq!(base[0]["wal"]["segment_size"], 16 << 20, "{base}");

    // Verification recovers the way a restore does (archive recovery), so
    // it would have failed here without the primary's settings.
    let verified = ok(berth(dir.path(), &["backup", "verify", "db"]));
    assert!(verified.contains("checksums match, 1000 rows in 1 tables"), "{verified}");
    assert!(verified.contains("archive recovery"), "{verified}");

    // The spec raises the limit again: the primary restarts with it and
    // logs the change in its WAL, which a point-in-time restore replays.
    let raised = "    settings: { max_connections: \"250\", max_locks_per_transaction: \"128\" }\n";
    write_spec_with(dir.path(), "physical", "./backups", "{ daily: 7 }", Extra { db: raised, ..Extra::default() });
    drop(stack);
    let stack = Stack::up(dir.path());
    let db = stack.port("db");
    assert_eq!(psql(db, "shop", "SHOW max_connections"), "250");

    psql(db, "shop", "INSERT INTO events (kind) VALUES ('before')");
    std::thread::sleep(Duration::from_millis(1500));
    let between = psql(db, "shop", NOW_UTC);
    std::thread::sleep(Duration::from_millis(1500));
    switch_and_ship(dir.path(), db, "after");

    let out = ok(berth(dir.path(), &["restore", "db", "--to-time", &between]));
    assert!(out.contains("replayed to"), "{out}");
    let scratch = format!("shop_restore_{}", base[0]["id"].as_str().unwrap().to_lowercase());
    assert_eq!(
        psql(db, &scratch, "SELECT string_agg(kind, ',') FROM events WHERE kind IN ('before', 'after')"),
        "before"
    );
    assert_eq!(psql(db, &scratch, "SELECT count(*) FROM events"), "1001");
}

#[test]
fn a_missing_wal_segment_fails_verification_and_point_in_time_recovery_names_it() {
    let dir = reachable_temp_dir();
    write_spec(dir.path(), "physical", "./backups", "{ daily: 7 }");
    let stack = Stack::up(dir.path());
    let db = stack.port("db");
    psql(db, "shop", SMALL);
    ok(berth(dir.path(), &["backup", "db"]));
    // Three segments after the base backup, each shipped.
    let segments: Vec<String> = ["one", "two", "three"].iter().map(|k| switch_and_ship(dir.path(), db, k)).collect();
    let later = psql(db, "shop", NOW_UTC);
    ok(berth(dir.path(), &["backup", "verify", "db"]));

    // One disappears from the middle of the archive (not the newest).
    let missing = &segments[0];
    std::fs::remove_file(dir.path().join(format!("backups/db/wal/{missing}.zst"))).unwrap();

    let err = failed(berth(dir.path(), &["backup", "verify", "db"]));
    assert!(
        err.contains("failed verification")
            && err.contains(&format!("WAL segment {missing} is missing from the archive"))
            && err.contains("point-in-time recovery stops before it"),
        "{err}"
    );
    // A restore past it is refused up front, naming it, not left to fail
    // as if the archive had not reached the moment yet.
    let err = failed(berth(dir.path(), &["restore", "db", "--to-time", &later]));
    assert!(err.contains(missing.as_str()) && !err.contains("does not reach"), "{err}");
    // The doctor says so too, naming the segment (exit 2: a failed check).
    let out = berth(dir.path(), &["doctor", "berth.yaml", "-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"] == "db wal archive")
        .unwrap_or_else(|| panic!("no `db wal archive` check: {report:#}"));
    assert_eq!(check["status"], "fail", "{check}");
    assert!(check["message"].as_str().unwrap().contains(missing.as_str()), "{check}");
    assert_eq!(out.status.code(), Some(2));
}

const SIGNING_KEY: &str = "k3y: sign the manifests";

#[test]
fn signed_manifests_refuse_rewritten_dumps_and_missing_signatures() {
    let dir = reachable_temp_dir();
    let signed = Extra {
        secrets: "  backup-key: {}\n",
        backup: "      signing_key: { secret: backup-key }\n",
        ..Extra::default()
    };
    write_spec_with(dir.path(), "logical", "./backups", "{ daily: 7 }", signed);
    let key = [("BERTH_SECRET_BACKUP_KEY", SIGNING_KEY)];
    let stack = Stack::up(dir.path());
    let db = stack.port("db");
    psql(db, "shop", SMALL);

    // The key is a secret like any other: without its value, no backup.
    let err = failed(berth(dir.path(), &["backup", "db"]));
    assert!(err.contains("backup-key") && err.contains("BERTH_SECRET_BACKUP_KEY"), "{err}");

    let taken = |dir: &Path| -> Value {
        serde_json::from_str(&ok(berth_with(dir, &["backup", "db", "-o", "json"], &key))).unwrap()
    };
    let old = taken(dir.path());
    let old = &old[0];
    assert_eq!(old["signature"].as_str().unwrap().len(), 64, "{old}");
    psql(db, "shop", "DELETE FROM events WHERE id > 500");
    let new = taken(dir.path());
    let new_id = new[0]["id"].as_str().unwrap().to_owned();
    ok(berth_with(dir.path(), &["backup", "verify", "db", &new_id], &key));

    // Someone with write access to the destination puts the old data under
    // the new backup, checksums and counts included: a consistent backup,
    // but not the one berth took and signed.
    let backups = dir.path().join("backups/db/backups");
    let (from, to) = (backups.join(old["id"].as_str().unwrap()), backups.join(&new_id));
    std::fs::remove_dir_all(to.join("dump")).unwrap();
    std::fs::create_dir_all(to.join("dump")).unwrap();
    for file in walk(&from.join("dump")) {
        std::fs::copy(&file, to.join("dump").join(file.file_name().unwrap())).unwrap();
    }
    let _ = std::fs::remove_file(to.join("verification.json"));
    let mut manifest = read_json(&to.join("manifest.json"));
    for field in ["files", "size", "counts"] {
        manifest[field] = old[field].clone();
    }
    std::fs::write(to.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let err = failed(berth_with(dir.path(), &["backup", "verify", "db", &new_id], &key));
    assert!(err.contains("failed verification") && err.contains("signature does not match"), "{err}");
    let err = failed(berth_with(dir.path(), &["restore", "db", &new_id], &key));
    assert!(err.contains("signature does not match"), "{err}");

    // Removing the signature is no way around it.
    manifest.as_object_mut().unwrap().remove("signature");
    std::fs::write(to.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let err = failed(berth_with(dir.path(), &["backup", "verify", "db", &new_id], &key));
    assert!(err.contains("not signed"), "{err}");
    let err = failed(berth_with(dir.path(), &["restore", "db", &new_id], &key));
    assert!(err.contains("not signed"), "{err}");

    // Another key did not sign the old backup; the right one did.
    let other = [("BERTH_SECRET_BACKUP_KEY", "another key")];
    let err = failed(berth_with(dir.path(), &["backup", "verify", "db", old["id"].as_str().unwrap()], &other));
    assert!(err.contains("signature does not match"), "{err}");
    let verified = ok(berth_with(dir.path(), &["backup", "verify", "db", old["id"].as_str().unwrap()], &key));
    assert!(verified.contains("checksums match, 1000 rows in 1 tables"), "{verified}");

    // Without a key, verification proves only consistency: the swapped
    // backup restores and matches its (rewritten) manifest.
    write_spec(dir.path(), "logical", "./backups", "{ daily: 7 }");
    let verified = ok(berth(dir.path(), &["backup", "verify", "db", &new_id]));
    assert!(verified.contains("checksums match, 1000 rows in 1 tables"), "{verified}");
}

/// A manifest as `berth backup` writes it, for a backup taken at `at`.
fn fabricated(id: &str, at: &str, wal_start: Option<String>) -> Value {
    let mut m = serde_json::json!({
        "format": 1, "id": id, "dependency": "db", "kind": "postgres",
        "method": if wal_start.is_some() { "physical" } else { "logical" },
        "source": "127.0.0.1:5432/shop", "server_version": "15.8", "tool": "pg_basebackup (PostgreSQL) 15.8",
        "started_at": at, "finished_at": at, "size": 3, "files": [{ "name": "base.tar.zst", "size": 3, "sha256": "0".repeat(64) }],
    });
    if let Some(start) = wal_start {
        m["wal"] = serde_json::json!({ "timeline": 1, "start_lsn": "0/1", "end_lsn": "0/2", "start_segment": start, "end_segment": start });
    }
    m
}

#[test]
fn prune_keeps_daily_weekly_monthly_the_newest_verified_and_the_wal_they_need() {
    let dir = berth_test_support::temp_dir();
    write_spec(dir.path(), "physical", "./backups", "{ daily: 3, weekly: 2, monthly: 2 }");
    let backups = dir.path().join("backups/db/backups");
    let wal = dir.path().join("backups/db/wal");
    std::fs::create_dir_all(&wal).unwrap();
    // One physical backup a day at 03:00, 2026-09-01 to 2026-10-10 (a Saturday),
    // each needing WAL from its own start segment on.
    let first = jiff::civil::date(2026, 9, 1);
    let mut ids = Vec::new();
    for day in 0..40 {
        let date = first.checked_add(jiff::Span::new().days(day)).unwrap();
        let id = format!("{}T030000Z", date.strftime("%Y%m%d"));
        let at = format!("{date}T03:05:00Z");
        let dir = backups.join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("base.tar.zst"), "abc").unwrap();
        let start = format!("0000000100000000{:08X}", 0x10 + 2 * day);
        std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&fabricated(&id, &at, Some(start))).unwrap())
            .unwrap();
        ids.push(id);
    }
    // Only the backup of 09-15 was ever proven restorable.
    std::fs::write(
        backups.join("20260915T030000Z/verification.json"),
        serde_json::to_vec(&serde_json::json!({ "id": "20260915T030000Z", "verified_at": "2026-09-15T04:00:00Z", "restored_into": "scratch", "seconds": 1.0, "counts": {} })).unwrap(),
    )
    .unwrap();
    // An old backup that never got its manifest, and one running right now.
    std::fs::create_dir_all(backups.join("20260905T120000Z")).unwrap();
    std::fs::write(backups.join("20260905T120000Z/base.tar.zst"), "partial").unwrap();
    let running = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    std::fs::create_dir_all(backups.join(&running)).unwrap();
    std::fs::write(backups.join(&running).join("base.tar.zst"), "partial").unwrap();
    for segment in 0x10..0x70 {
        std::fs::write(wal.join(format!("0000000100000000{segment:08X}.zst")), "wal").unwrap();
    }
    std::fs::write(wal.join("00000002.history.zst"), "history").unwrap();

    let remaining = || {
        let mut names: Vec<String> = std::fs::read_dir(&backups)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = remaining();
    let dry = ok(berth(dir.path(), &["backup", "prune", "db", "--dry-run"]));
    assert!(dry.contains("would delete 20260901T030000Z"), "{dry}");
    assert_eq!(remaining(), before, "--dry-run deleted something");

    let out = ok(berth(dir.path(), &["backup", "prune", "db"]));
    let mut expected = vec![
        "20260915T030000Z", // newest verified
        "20260930T030000Z", // September's newest
        "20261004T030000Z", // the week before's newest (Sunday)
        "20261008T030000Z", // daily
        "20261009T030000Z", // daily
        "20261010T030000Z", // daily, this week's, October's, newest
    ];
    expected.push(&running);
    expected.sort();
    assert_eq!(remaining(), expected, "{out}");
    assert!(out.contains("keep 20260915T030000Z (newest verified)"), "{out}");
    assert!(out.contains("keep 20261010T030000Z (daily, weekly, monthly, newest)"), "{out}");
    // WAL before the oldest kept base backup (09-15, segment 0x2C) is gone;
    // everything it and later ones need is kept, and the timeline history.
    let mut wal_left: Vec<String> =
        std::fs::read_dir(&wal).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    wal_left.sort();
    assert_eq!(wal_left.first().map(String::as_str), Some("00000001000000000000002C.zst"));
    assert_eq!(wal_left.len(), 0x70 - 0x2C + 1);
    assert!(wal_left.contains(&"00000002.history.zst".to_owned()));
    assert!(out.contains("deleted 28 WAL segments"), "{out}");
}

/// Test keys made with age's own key generation for these tests only.
const AGE_KEY: &str = "AGE-SECRET-KEY-1JYAJKLUR3TK8VADYQCZPQYSQRJDT7LHA6ZTMW4J88GRW2CRJWR6Q758L4V";
const AGE_RECIPIENT: &str = "age13w43wpqxwsjd68jvur8lvyqmvt39qqkyfkpnh9axeewy8n729vrsyktgla";
const OTHER_AGE_KEY: &str = "AGE-SECRET-KEY-1Q8SH7VXY36U3DXUT6WEFF5QRA6A4VA4GST0ERKLVJZZ7A39FJYDQNNW7FD";

/// A logical dump and a Redis snapshot under a policy with an age key:
/// every stored file is an age file (no row or key readable in it), the
/// manifest names the recipient, and verify and restore decrypt with the
/// key; another key, no key, a flipped byte, and a plain backup under the
/// encrypting policy are refused.
#[test]
fn encrypted_dependency_backups_need_their_key() {
    let dir = reachable_temp_dir();
    let write = |encrypt: bool| {
        let key = if encrypt { "      encryption_key: { secret: age-key }\n" } else { "" };
        let extra = Extra { secrets: "  age-key: {}\n", backup: key, cache_backup: key, ..Extra::default() };
        write_spec_with(dir.path(), "logical", "./backups", "{ daily: 7 }", extra);
    };
    write(true);
    let with_key = |key: &str, args: &[&str]| berth_with(dir.path(), args, &[("BERTH_SECRET_AGE_KEY", key)]);
    ok(with_key(AGE_KEY, &["up", "-d", "berth.yaml"]));
    let stack = Stack::up_existing(dir.path());
    let (db, cache) = (stack.port("db"), stack.port("cache"));
    psql(
        db,
        "shop",
        "CREATE TABLE cards (id int PRIMARY KEY, pan text); INSERT INTO cards SELECT i, 'PAN-4111-' || i FROM generate_series(1, 500) i",
    );
    redis_cli(cache, &["SET", "session:ada", "TOKEN-ada-0001"]);

    let mut ids = Vec::new();
    for (dependency, kind) in [("db", "postgres"), ("cache", "redis")] {
        let taken: Value = serde_json::from_str(&ok(with_key(AGE_KEY, &["backup", dependency, "-o", "json"]))).unwrap();
        let id = taken[0]["id"].as_str().unwrap().to_owned();
        ids.push(id.clone());
        assert_eq!(taken[0]["kind"], kind);
        let stored = dir.path().join("backups").join(dependency).join("backups").join(&id);
        assert_eq!(read_json(&stored.join("manifest.json"))["encrypted_to"], AGE_RECIPIENT);
        let files: Vec<PathBuf> = walk(&stored).into_iter().filter(|p| !p.ends_with("manifest.json")).collect();
        assert!(!files.is_empty());
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            assert!(file.to_string_lossy().ends_with(".zst.age"), "{}", file.display());
            assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "{} is not an age file", file.display());
        }
        ok(with_key(AGE_KEY, &["backup", "verify", dependency, &id]));
        let said = verification_failed(with_key(OTHER_AGE_KEY, &["backup", "verify", dependency, &id]));
        assert!(said.contains(&format!("encrypted to {AGE_RECIPIENT}, not to the policy's key")), "{said}");

        // A flipped byte inside an encrypted file: age's tag catches it
        // (the checksum too, which is read in the same pass).
        let backups = dir.path().join("backups").join(dependency).join("backups");
        let flipped = tampered_copy(&backups, &id, "flipped", |copy| flip_a_byte_of_the_biggest(copy, "age"));
        verification_failed(with_key(AGE_KEY, &["backup", "verify", dependency, &flipped]));
    }

    // Restores decrypt with the key.
    psql(db, "shop", "DELETE FROM cards WHERE id > 10");
    redis_cli(cache, &["DEL", "session:ada"]);
    ok(with_key(AGE_KEY, &["restore", "db", &ids[0], "--yes"]));
    ok(with_key(AGE_KEY, &["restore", "cache", &ids[1], "--yes"]));
    assert_eq!(psql(db, "shop", "SELECT count(*) FROM cards"), "500");
    assert_eq!(redis_cli(cache, &["GET", "session:ada"]), "TOKEN-ada-0001");

    // Without the key the policy cannot read them; a plain backup under a
    // policy that encrypts is refused.
    write(false);
    let said = failed(berth(dir.path(), &["backup", "verify", "db", &ids[0]]));
    assert!(said.contains("is encrypted (to age1") && said.contains("encryption_key"), "{said}");
    let plain: Value = serde_json::from_str(&ok(berth(dir.path(), &["backup", "cache", "-o", "json"]))).unwrap();
    write(true);
    let id = plain[0]["id"].as_str().unwrap();
    let said = verification_failed(with_key(AGE_KEY, &["backup", "verify", "cache", id]));
    assert!(said.contains("the backup is not encrypted, but the policy encrypts"), "{said}");
    drop(stack);
}
