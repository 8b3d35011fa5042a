//! `berth init`: look at the project directory, then write a commented
//! starter spec that validates as written.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::Outcome;
use crate::cli::InitArgs;
use crate::output;

/// What `berth init` could tell about the project.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Detected {
    pub name: String,
    /// Manifest the name and command came from, for the comment.
    pub source: Option<&'static str>,
    pub command: Option<Vec<String>>,
    pub dockerfile: bool,
    pub port: Option<u16>,
    pub postgres: bool,
    pub redis: bool,
}

pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    let target = args.dir.join("berth.yaml");
    if target.exists() && !args.force {
        crate::usage!("{} already exists (use --force to overwrite it)", target.display());
    }
    let mut detected = detect(&args.dir);
    if let Some(name) = &args.name {
        detected.name = name.clone();
    }
    let text = starter(&detected);
    std::fs::write(&target, &text).with_context(|| format!("cannot write {}", target.display()))?;
    let mut found = Vec::new();
    if let Some(source) = detected.source {
        found.push(format!("name and command from {source}"));
    }
    if detected.dockerfile {
        found.push("a Dockerfile".to_owned());
    }
    if detected.postgres {
        found.push("PostgreSQL".to_owned());
    }
    if detected.redis {
        found.push("Redis".to_owned());
    }
    let found = if found.is_empty() { String::new() } else { format!(" (detected {})", found.join(", ")) };
    output::stdout(&format!("wrote {}{found}\nnext: edit it, then run `berth validate`\n", target.display()))?;
    Ok(Outcome::Ok)
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// The value of `key = "value"` in the first TOML section named `section`.
fn toml_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == format!("[{section}]");
            continue;
        }
        if in_section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}

fn detect(dir: &Path) -> Detected {
    let mut d = Detected::default();
    let mut manifest_text = String::new();
    if let Some(cargo) = read(dir, "Cargo.toml") {
        if let Some(name) = toml_value(&cargo, "package", "name") {
            d.command = Some(vec![format!("./target/release/{name}")]);
            d.name = name;
            d.source = Some("Cargo.toml");
        }
        manifest_text = cargo;
    } else if let Some(package) = read(dir, "package.json") {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(&package) {
            if let Some(name) = json["name"].as_str() {
                d.name = name.rsplit('/').next().unwrap_or(name).to_owned();
                d.source = Some("package.json");
            }
            if json["scripts"]["start"].is_string() {
                d.command = Some(vec!["npm".to_owned(), "start".to_owned()]);
            }
        }
        manifest_text = package;
    } else if let Some(gomod) = read(dir, "go.mod") {
        if let Some(module) = gomod.lines().find_map(|l| l.strip_prefix("module ")) {
            d.name = module.trim().rsplit('/').next().unwrap_or_default().to_owned();
            d.source = Some("go.mod");
            d.command = Some(vec!["go".to_owned(), "run".to_owned(), ".".to_owned()]);
        }
        manifest_text = gomod;
    } else if let Some(pyproject) = read(dir, "pyproject.toml") {
        if let Some(name) = toml_value(&pyproject, "project", "name") {
            d.name = name;
            d.source = Some("pyproject.toml");
        }
        manifest_text = pyproject;
    }
    manifest_text.push_str(&read(dir, "requirements.txt").unwrap_or_default());
    let lower = manifest_text.to_lowercase();
    d.postgres =
        ["postgres", "sqlx", "diesel", "psycopg", "\"pg\"", "pgx", "asyncpg"].iter().any(|w| lower.contains(w));
    d.redis = ["redis"].iter().any(|w| lower.contains(w));
    if let Some(dockerfile) = read(dir, "Dockerfile") {
        d.dockerfile = true;
        d.port = dockerfile.lines().find_map(|l| {
            let rest = l.trim().strip_prefix("EXPOSE ").or_else(|| l.trim().strip_prefix("expose "))?;
            rest.split_whitespace().next()?.split('/').next()?.parse().ok()
        });
    }
    if d.name.is_empty() {
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        d.name = canonical.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "app".to_owned());
    }
    d.name = dns_label(&d.name);
    d
}

/// Lowercase, `-` for anything else, trimmed to 63 characters.
fn dns_label(name: &str) -> String {
    let mut out: String =
        name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let mut out = out.trim_matches('-').to_owned();
    out.truncate(63);
    if out.is_empty() { "app".to_owned() } else { out.trim_end_matches('-').to_owned() }
}

fn yaml_list(items: &[String]) -> String {
    let quoted: Vec<String> =
        items.iter().map(|i| format!("\"{}\"", i.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    format!("[{}]", quoted.join(", "))
}

/// The starter spec. Pure, so tests can check it validates for any input.
pub fn starter(d: &Detected) -> String {
    let name = &d.name;
    let port = d.port.unwrap_or(8080);
    let mut s = String::new();
    let _ = writeln!(s, "# yaml-language-server: $schema=https://berth.dev/schema/berth-v1.json");
    let _ = writeln!(s, "# berth.yaml: the one spec berth renders, checks, runs and operates.");
    let _ = writeln!(s, "# Reference: docs/spec.md. Check it with `berth validate`; see the result with `berth plan`.");
    let _ = writeln!(s, "version: 1");
    let _ = writeln!(s, "name: {name}\n");
    let _ = writeln!(s, "services:");
    let _ = writeln!(s, "  {name}:");
    let _ = writeln!(s, "    # Container image for container targets; pin a tag or digest.");
    let _ = writeln!(s, "    image: ghcr.io/example/{name}:0.1.0");
    if d.dockerfile {
        let _ = writeln!(s, "    build: {{ context: ., dockerfile: Dockerfile }}");
    }
    let command = d.command.clone().unwrap_or_else(|| vec![format!("./bin/{name}")]);
    let _ = writeln!(s, "    # How `berth up` runs it without containers; it listens on $PORT.");
    let _ = writeln!(s, "    run: {{ command: {} }}", yaml_list(&command));
    let _ = writeln!(s, "    ports: {{ http: {port} }}");
    let _ = writeln!(s, "    health:");
    let _ = writeln!(s, "      liveness: {{ http: /health }}        # restart when this fails");
    let _ = writeln!(s, "      readiness: {{ http: /health/ready }} # route traffic only while this passes");
    let _ = writeln!(s, "    replicas: 2");
    let _ = writeln!(s, "    resources:");
    let _ = writeln!(s, "      requests: {{ cpu: 100m, memory: 128Mi }}");
    let _ = writeln!(s, "      limits: {{ cpu: \"1\", memory: 512Mi }}");
    let _ = writeln!(s, "    metrics: {{ path: /metrics }}");
    let mut uses = Vec::new();
    if d.postgres {
        uses.push("db");
    }
    if d.redis {
        uses.push("cache");
    }
    if !uses.is_empty() {
        let _ = writeln!(s, "    uses: [{}]  # injects DATABASE_URL / REDIS_URL", uses.join(", "));
    }
    if !uses.is_empty() {
        let _ = writeln!(s, "\n# Values never go in the spec: berth reads them from BERTH_SECRET_<NAME> or a file.");
        let _ = writeln!(s, "secrets:");
        if d.postgres {
            let _ = writeln!(s, "  db-password: {{}}");
        }
        if d.redis {
            let _ = writeln!(s, "  cache-password: {{}}");
        }
        let _ = writeln!(s, "\ndependencies:");
        if d.postgres {
            let _ =
                writeln!(s, "  db:\n    kind: postgres\n    version: \"16\"\n    password: {{ secret: db-password }}");
            let _ = writeln!(s, "    backup: {{ schedule: \"0 3 * * *\", to: ./backups }}");
        }
        if d.redis {
            let _ = writeln!(
                s,
                "  cache:\n    kind: redis\n    version: \"7\"\n    password: {{ secret: cache-password }}\n    maxmemory: 256Mi"
            );
        }
    }
    let _ = writeln!(s, "\nedge:");
    let _ = writeln!(s, "  tls: {{ mode: self-signed }}   # `acme` with an email for public hosts");
    let _ = writeln!(s, "  rate_limits:");
    let _ = writeln!(s, "    default: {{ rate: 20/s, burst: 40 }}");
    let _ = writeln!(s, "  routes:");
    let _ = writeln!(s, "    - {{ path: /, service: {name}, rate_limit: default }}");
    let _ = writeln!(s, "\n# Overlays merged over everything above, per environment.");
    let _ = writeln!(s, "environments:");
    let _ = writeln!(s, "  development:");
    let _ = writeln!(s, "    services:");
    let _ = writeln!(s, "      {name}: {{ replicas: 1 }}");
    let _ = writeln!(s, "  production:");
    let _ = writeln!(s, "    services:");
    let _ = writeln!(s, "      {name}: {{ replicas: 3 }}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(dns_label("My_Cool App!"), "my-cool-app");
        assert_eq!(dns_label("@@@"), "app");
    }

    #[test]
    fn every_starter_validates_without_errors() {
        for (postgres, redis, dockerfile) in
            [(false, false, false), (true, false, true), (true, true, false), (false, true, true)]
        {
            let d = Detected {
                name: "shop".to_owned(),
                postgres,
                redis,
                dockerfile,
                port: Some(3000),
                ..Detected::default()
            };
            let text = starter(&d);
            let diagnostics = berth_spec::check_all(&text);
            assert!(diagnostics.iter().all(|x| !x.is_error()), "{text}\n{diagnostics:#?}");
            assert!(diagnostics.is_empty(), "starter should be warning-free too: {diagnostics:#?}");
        }
    }
}
