//! From a plan's dependency and its backup policy to what an operation
//! needs: the server to connect to ([`server`]), the method ([`method`])
//! and the signing key ([`signing_key`]).
//!
//! Pure: the caller gathers what only it may read (the command line, the
//! environment, a running `berth up`'s state, secret values) into
//! [`Whereabouts`] and a secret reader; the choices and their order are
//! made here, once, for `berth backup`, `berth restore` and `berth doctor`.

use berth_plan::{BackupJob, BackupSubject, DependencyPlan, Plan, SecretPlan};
use berth_spec::BackupMethod;

use crate::error::{BackupError, at};
use crate::source::Source;

/// Where a dependency's server may be, most explicit first.
#[derive(Clone, Default)]
pub struct Whereabouts {
    /// A connection URL given on the command line (`--from`).
    pub from: Option<String>,
    /// The value of the dependency's URL variable (`DATABASE_URL`,
    /// `REDIS_URL` or the spec's `url_env`), when it is set.
    pub url_variable: Option<String>,
    /// The loopback port a running `berth up` serves the dependency on.
    pub running_port: Option<u16>,
}

impl std::fmt::Debug for Whereabouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A URL may carry a password: say only which ones are set.
        f.debug_struct("Whereabouts")
            .field("from", &self.from.as_ref().map(|_| "<set>"))
            .field("url_variable", &self.url_variable.as_ref().map(|_| "<set>"))
            .field("running_port", &self.running_port)
            .finish()
    }
}

impl Whereabouts {
    /// Whether the server is the plan's own (a running `berth up`'s, else
    /// the plan's host), which takes its password from the dependency's
    /// secret; a URL given by `from` or the variable carries its own.
    pub fn is_plan_server(&self) -> bool {
        self.from.is_none() && self.url_variable.is_none()
    }
}

/// Reads a secret's value where this process can see it (env or file);
/// `None` when it cannot.
pub type ReadSecret = dyn Fn(&SecretPlan) -> Option<String>;

/// The connection URL of `dep`'s server: `from`, else the URL variable,
/// else the plan's URL (whose host is the dependency's name), pointed at
/// `127.0.0.1:<running_port>` when a `berth up` runs it, with `password`
/// (which only this last case uses).
pub fn server_url(
    dep: &DependencyPlan,
    whereabouts: &Whereabouts,
    password: Option<&str>,
) -> Result<String, BackupError> {
    if let Some(url) = whereabouts.from.as_ref().or(whereabouts.url_variable.as_ref()) {
        return Ok(url.clone());
    }
    let mut url = url::Url::parse(&dep.url).map_err(at("read the plan's dependency URL"))?;
    if let Some(port) = whereabouts.running_port {
        let _ = url.set_host(Some("127.0.0.1"));
        let _ = url.set_port(Some(port));
    }
    if let Some(password) = password {
        let _ = url.set_password(Some(password));
    }
    Ok(url.to_string())
}

/// `dep`'s server: [`server_url`], parsed. For the plan's own server the
/// password comes from the dependency's secret, read with `read_secret`
/// (an error when the secret has no value). Commands that only work on
/// the destination (list, prune) pass `None`: no password is read, and a
/// missing one is no error.
pub fn server(
    plan: &Plan,
    dep: &DependencyPlan,
    whereabouts: &Whereabouts,
    read_secret: Option<&ReadSecret>,
) -> Result<Source, BackupError> {
    let password = match read_secret {
        Some(read) if whereabouts.is_plan_server() => password(plan, dep, read)?,
        Some(_) | None => None,
    };
    let url = server_url(dep, whereabouts, password.as_deref())?;
    Source::from_url(&dep.name, dep.kind, &dep.version, &url)
}

/// The value of `dep`'s password secret; `None` when it names none that
/// the plan declares.
fn password(plan: &Plan, dep: &DependencyPlan, read: &ReadSecret) -> Result<Option<String>, BackupError> {
    let Some(secret) = dep.password_secret.as_ref().and_then(|name| plan.secrets.iter().find(|s| &s.name == name))
    else {
        return Ok(None);
    };
    let value = read(secret).ok_or_else(|| {
        BackupError::Secret(format!(
            "secret `{}` (the password of `{}`) has no value: set {}",
            secret.name,
            dep.name,
            where_to_set(secret)
        ))
    })?;
    Ok(Some(value))
}

/// The value of `job`'s signing key: manifests are signed with it, and
/// verification and restores refuse one it did not sign. `None` when the
/// policy names no key; an error when the plan does not declare the
/// secret or it has no value (an empty key would sign, but prove nothing).
pub fn signing_key(plan: &Plan, job: &BackupJob, read_secret: &ReadSecret) -> Result<Option<Vec<u8>>, BackupError> {
    let Some(name) = &job.signing_key_secret else { return Ok(None) };
    Ok(Some(key_value(plan, job, name, "backup signing key", read_secret)?.into_bytes()))
}

/// The age identity `job`'s volume archives are encrypted to; `None`
/// when the policy names none; an error when the secret is undeclared,
/// empty or not an age identity.
pub fn encryption_key(
    plan: &Plan,
    job: &BackupJob,
    read_secret: &ReadSecret,
) -> Result<Option<crate::crypt::EncryptionKey>, BackupError> {
    let Some(name) = &job.encryption_key_secret else { return Ok(None) };
    let value = key_value(plan, job, name, "backup encryption key", read_secret)?;
    crate::crypt::EncryptionKey::parse(&value).map(Some).ok_or_else(|| {
        BackupError::Secret(format!(
            "secret `{name}` (the backup encryption key of `{}`) is not an age identity: make one with `age-keygen` \
             (a line starting with AGE-SECRET-KEY-1)",
            job.name
        ))
    })
}

/// The value of secret `name`, which `job`'s policy uses as its `what`.
fn key_value(
    plan: &Plan,
    job: &BackupJob,
    name: &str,
    what: &str,
    read_secret: &ReadSecret,
) -> Result<String, BackupError> {
    let secret = plan.secrets.iter().find(|s| s.name == name).ok_or_else(|| {
        BackupError::Secret(format!("secret `{name}` (the {what} of `{}`) is not declared under `secrets:`", job.name))
    })?;
    read_secret(secret).filter(|v| !v.is_empty()).ok_or_else(|| {
        BackupError::Secret(format!(
            "secret `{name}` (the {what} of `{}`) has no value: set {}",
            job.name,
            where_to_set(secret)
        ))
    })
}

/// Where a secret's value is read from: its environment variable, else its file.
fn where_to_set(secret: &SecretPlan) -> &str {
    secret.env.as_deref().or(secret.file.as_deref()).unwrap_or_default()
}

/// The method to back `job` up with: `asked` (`berth backup --method`)
/// when given, else the plan's. Redis always takes a snapshot, whatever
/// is asked, a volume an archive; PostgreSQL refuses a snapshot when
/// [`crate::backup`] runs.
pub fn method(job: &BackupJob, asked: Option<BackupMethod>) -> BackupMethod {
    match job.subject {
        BackupSubject::Redis => BackupMethod::Snapshot,
        BackupSubject::Volume { .. } => BackupMethod::Archive,
        BackupSubject::Postgres => asked.unwrap_or(job.method),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let path = berth_test_support::workspace_root().join("examples/web-api/berth.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        berth_plan::build(&berth_spec::load(&text, None).spec.unwrap(), None)
    }

    fn dependency<'p>(plan: &'p Plan, name: &str) -> &'p DependencyPlan {
        plan.dependencies.iter().find(|d| d.name == name).unwrap()
    }

    #[test]
    fn the_most_explicit_server_wins() {
        let plan = plan();
        let db = dependency(&plan, "db");
        let given = |from: Option<&str>, variable: Option<&str>, port: Option<u16>| Whereabouts {
            from: from.map(str::to_owned),
            url_variable: variable.map(str::to_owned),
            running_port: port,
        };
        let url = |w: &Whereabouts| server_url(db, w, Some("pw")).unwrap();
        let (from, variable) = ("postgres://a@10.0.0.1/shop", "postgres://b@10.0.0.2/shop");
        assert_eq!(url(&given(Some(from), Some(variable), Some(5433))), from);
        assert_eq!(url(&given(None, Some(variable), Some(5433))), variable);
        assert_eq!(url(&given(None, None, Some(5433))), "postgres://shop:pw@127.0.0.1:5433/db");
        assert_eq!(url(&given(None, None, None)), "postgres://shop:pw@db:5432/db");
        assert!(!format!("{:?}", given(Some(from), None, None)).contains("10.0.0.1"));
    }

    #[test]
    fn the_password_is_read_only_for_the_plans_server_and_must_have_a_value() {
        let plan = plan();
        let db = dependency(&plan, "db");
        let none: &ReadSecret = &|_: &SecretPlan| None;
        let pw: &ReadSecret = &|s: &SecretPlan| (s.name == "db-password").then(|| "pw".to_owned());
        let running = Whereabouts { running_port: Some(5433), ..Whereabouts::default() };
        let e = server(&plan, db, &running, Some(none)).unwrap_err();
        assert!(matches!(e, BackupError::Secret(_)), "{e}");
        assert!(e.to_string().contains("BERTH_SECRET_DB_PASSWORD"), "{e}");
        assert_eq!(server(&plan, db, &running, Some(pw)).unwrap().password.as_deref(), Some("pw"));
        // Listing needs no server: no password is read.
        assert_eq!(server(&plan, db, &running, None).unwrap().password, None);
        // A given URL carries its own.
        let given = Whereabouts { url_variable: Some("postgres://shop@10.0.0.2/shop".into()), ..running };
        assert_eq!(server(&plan, db, &given, Some(none)).unwrap().host, "10.0.0.2");
    }

    #[test]
    fn redis_always_snapshots_and_postgres_takes_what_is_asked() {
        let plan = plan();
        let (db, cache) = (dependency(&plan, "db"), dependency(&plan, "cache"));
        let (db, cache) = (db.backup.as_ref().unwrap(), cache.backup.as_ref().unwrap());
        assert_eq!(method(db, None), BackupMethod::Physical);
        assert_eq!(method(db, Some(BackupMethod::Logical)), BackupMethod::Logical);
        assert_eq!(method(cache, None), BackupMethod::Snapshot);
        assert_eq!(method(cache, Some(BackupMethod::Physical)), BackupMethod::Snapshot);
    }

    #[test]
    fn no_signing_key_is_no_key_and_a_named_one_must_have_a_value() {
        let plan = plan();
        let db = dependency(&plan, "db").backup.clone().unwrap();
        let none: &ReadSecret = &|_: &SecretPlan| None;
        assert_eq!(signing_key(&plan, &db, none).unwrap(), None);
        let signed = BackupJob { signing_key_secret: Some("db-password".into()), ..db };
        let e = signing_key(&plan, &signed, none).unwrap_err();
        assert!(e.to_string().contains("signing key of `db`") && e.to_string().contains("has no value"), "{e}");
        let empty: &ReadSecret = &|_: &SecretPlan| Some(String::new());
        assert!(signing_key(&plan, &signed, empty).is_err());
        let key: &ReadSecret = &|_: &SecretPlan| Some("k".into());
        assert_eq!(signing_key(&plan, &signed, key).unwrap(), Some(b"k".to_vec()));
        let undeclared = BackupJob { signing_key_secret: Some("nowhere".into()), ..signed };
        assert!(signing_key(&plan, &undeclared, key).unwrap_err().to_string().contains("not declared"));
    }
}
