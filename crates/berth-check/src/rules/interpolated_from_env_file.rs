use berth_spec::{Node, NodeKind};

use crate::graph::compose::{ComposeService, env_file_paths, normalize, references};
use crate::graph::envfile::{EnvFile, EnvVar, find};
use crate::graph::paths::tail_matches;
use crate::graph::{Graph, place};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// compose fills `${VAR}` and `$VAR` in the compose file from the shell
    /// and the project's `.env` (beside the compose file), never from a
    /// service's `env_file:`, which only that service's containers read. A
    /// variable set only in such a file (`POSTGRES_PASSWORD` in `db.env`)
    /// and written as `postgres://app:${POSTGRES_PASSWORD}@db/app` becomes
    /// an empty string: compose warns "variable is not set. Defaulting to a
    /// blank string", and the app fails to authenticate, or a blank
    /// password is accepted. Reported when a variable the compose file
    /// interpolates without a default is set in an env file that a service
    /// of the project lists in `env_file:`, and the tree holds the
    /// project's `.env` without it (or, with no `.env` in the tree, an
    /// `.env.example`, `.env.sample`, `.env.template` or `.env.dist` beside
    /// the compose file, none of which sets it). Silent for
    /// `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` and
    /// `${VAR:+alt}`, for `$$VAR` (left to the container), when neither
    /// `.env` nor a template of it is in the tree, for env files named
    /// `.env.*` (made to be passed with `--env-file`), when a script or
    /// systemd unit of the deployment unit reads the env file (`source`,
    /// `EnvironmentFile=`) or passes compose an `--env-file`, and when
    /// `.env` sets `COMPOSE_ENV_FILES`.
    InterpolatedFromEnvFile {
        code: "X017",
        name: "interpolated-from-env-file",
        severity: Error,
        fix: "set the variable in the `.env` beside the compose file (and in its `.env.example`), where compose reads it; `env_file:` only fills the containers' environment",
    }
}

/// Variables every shell has: not meant to come from an env file.
const SHELL: [&str; 11] = ["HOME", "USER", "LOGNAME", "PWD", "PATH", "SHELL", "UID", "GID", "HOSTNAME", "LANG", "TERM"];

/// What `.env` is made from, when `.env` itself is not committed.
const TEMPLATES: [&str; 4] = [".env.example", ".env.sample", ".env.template", ".env.dist"];

impl Rule for InterpolatedFromEnvFile {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        let graph = cx.graph;
        let mut projects: Vec<&str> = graph.compose.iter().map(|s| s.project.as_str()).collect();
        projects.sort_unstable();
        projects.dedup();
        for project in projects {
            let services: Vec<&ComposeService<'_>> = graph.compose.iter().filter(|s| s.project == project).collect();
            let Some(first) = services.first() else { continue };
            let unit = graph.unit(first.file);
            let dir = first.dir.as_str();
            let beside = |name: &str| normalize(&format!("{dir}/{name}"));
            // What compose interpolates from: `.env`, or what `.env` is made from.
            let (read, template): (Vec<&EnvFile>, Option<&str>) = match find(graph.env_files, cx.files, &beside(".env"))
            {
                Some(env) => (vec![env], None),
                None => {
                    let found: Vec<(&str, &EnvFile)> = TEMPLATES
                        .iter()
                        .filter_map(|t| Some((*t, find(graph.env_files, cx.files, &beside(t))?)))
                        .collect();
                    (found.iter().map(|(_, e)| *e).collect(), found.first().map(|(t, _)| *t))
                }
            };
            if read.is_empty()
                || read.iter().any(|e| e.get("COMPOSE_ENV_FILES").is_some())
                || passes_env_file(graph, unit)
            {
                continue;
            }
            let mut set: Vec<(&EnvFile, &EnvVar)> = Vec::new();
            for s in &services {
                for (path, _) in env_file_paths(s) {
                    let name = path.rsplit('/').next().unwrap_or(&path);
                    if name == ".env" || name.starts_with(".env.") {
                        continue;
                    }
                    let Some(env) = find(graph.env_files, cx.files, &path) else { continue };
                    if read_otherwise(cx, unit, &path) {
                        continue;
                    }
                    for v in &env.vars {
                        if !set.iter().any(|(_, o)| o.name == v.name) {
                            set.push((env, v));
                        }
                    }
                }
            }
            if set.is_empty() {
                continue;
            }
            let mut compose_files: Vec<usize> = services.iter().map(|s| s.file).collect();
            compose_files.sort_unstable();
            compose_files.dedup();
            let mut reported: Vec<(usize, usize, String)> = Vec::new();
            for (file, doc) in graph.documents.iter().filter(|(f, _)| compose_files.contains(f)) {
                let mut nodes = Vec::new();
                scalars(doc, &mut nodes);
                for node in nodes {
                    let Some(text) = node.as_str() else { continue };
                    for r in references(text) {
                        if r.handled
                            || SHELL.contains(&r.name.as_str())
                            || read.iter().any(|e| e.get(&r.name).is_some())
                            || reported.contains(&(*file, node.span.start, r.name.clone()))
                        {
                            continue;
                        }
                        let Some((env, var)) = set.iter().find(|(_, v)| v.name == r.name) else { continue };
                        reported.push((*file, node.span.start, r.name.clone()));
                        let source = match template {
                            None => "the project's `.env`, which does not set it".to_owned(),
                            Some(t) => format!("the project's `.env`, whose template `{t}` does not set it"),
                        };
                        sink.report(
                            *file,
                            node.span,
                            format!(
                                "compose interpolates `{}` from the shell and {source}, not from `{}` ({}), which only \
                                 the containers that list it in `env_file:` read: it becomes an empty string",
                                r.name,
                                cx.files[env.file].name,
                                place(cx.files, env.file, var.name_span)
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Every string value of a YAML tree (keys are not interpolated).
fn scalars<'n>(node: &'n Node, out: &mut Vec<&'n Node>) {
    match &node.kind {
        NodeKind::Str(_) => out.push(node),
        NodeKind::Seq(items) => items.iter().for_each(|i| scalars(i, out)),
        NodeKind::Map(entries) => entries.iter().for_each(|e| scalars(&e.value, out)),
        _ => {}
    }
}

/// A script or systemd unit of `unit` passes compose an `--env-file`:
/// other files than `.env` may then be interpolated from.
fn passes_env_file(graph: &Graph<'_>, unit: usize) -> bool {
    let scripts = graph
        .scripts
        .iter()
        .filter(|s| graph.unit(s.file) == unit)
        .flat_map(|s| s.commands.iter().flat_map(|c| &c.words))
        .any(|w| w.text.starts_with("--env-file"));
    let units = graph
        .units
        .iter()
        .filter(|u| graph.unit(u.file) == unit)
        .flat_map(|u| &u.settings)
        .any(|s| s.key.starts_with("Exec") && s.value.contains("--env-file"));
    scripts || units
}

/// A script or systemd unit of `unit` names the env file at `path`
/// (`set -a; . ./app.env`, `export $(cat app.env | xargs)`,
/// `EnvironmentFile=`): its variables may be in the shell compose runs in.
fn read_otherwise(cx: &Context<'_>, unit: usize, path: &str) -> bool {
    let graph = cx.graph;
    let name = path.rsplit('/').next().unwrap_or(path);
    let scripts = graph
        .scripts
        .iter()
        .filter(|s| graph.unit(s.file) == unit)
        .flat_map(|s| s.commands.iter().flat_map(|c| &c.words))
        .any(|w| w.text.contains(name));
    let units = graph
        .units
        .iter()
        .filter(|u| graph.unit(u.file) == unit)
        .flat_map(|u| u.get("Service", "EnvironmentFile"))
        .any(|s| tail_matches(&s.value, path));
    scripts || units
}

#[cfg(test)]
mod tests {
    fn findings(files: &[(&str, &str)]) -> Vec<String> {
        crate::rules::messages_of("X017", files)
    }

    const COMPOSE: &str = "services:\n  db:\n    image: postgres:16.4\n    env_file: db.env\n  app:\n    image: ghcr.io/acme/app:2.3.1\n    environment:\n      DATABASE_URL: postgres://app:${POSTGRES_PASSWORD}@db:5432/app\n";
    const DB_ENV: &str = "POSTGRES_USER=app\nPOSTGRES_PASSWORD=s3cret\n";

    #[test]
    fn a_variable_only_an_env_file_sets() {
        let found = findings(&[("docker-compose.yml", COMPOSE), ("db.env", DB_ENV), (".env", "TAG=2.3.1\n")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`POSTGRES_PASSWORD`") && found[0].contains("db.env:2"), "{found:?}");
        let template = findings(&[("docker-compose.yml", COMPOSE), ("db.env", DB_ENV), (".env.example", "TAG=\n")]);
        assert_eq!(template.len(), 1, "{template:?}");
        assert!(template[0].contains("`.env.example`"), "{template:?}");
    }

    #[test]
    fn defaults_escapes_and_what_compose_does_read() {
        let with =
            |compose: &str, env: &str| findings(&[("docker-compose.yml", compose), ("db.env", DB_ENV), (".env", env)]);
        assert!(with(COMPOSE, "POSTGRES_PASSWORD=local\n").is_empty());
        assert!(
            with(COMPOSE.replace("${POSTGRES_PASSWORD}", "${POSTGRES_PASSWORD:-app}").as_str(), "A=1\n").is_empty()
        );
        assert!(
            with(COMPOSE.replace("${POSTGRES_PASSWORD}", "${POSTGRES_PASSWORD:?set it}").as_str(), "A=1\n").is_empty()
        );
        assert!(with(COMPOSE.replace("${POSTGRES_PASSWORD}", "$${POSTGRES_PASSWORD}").as_str(), "A=1\n").is_empty());
        assert!(with(COMPOSE, "COMPOSE_ENV_FILES=.env,db.env\n").is_empty());
        // No `.env` and no template of it: what compose reads is unknown.
        assert!(findings(&[("docker-compose.yml", COMPOSE), ("db.env", DB_ENV)]).is_empty());
        // An env file named for `--env-file`.
        let production = COMPOSE.replace("env_file: db.env", "env_file: .env.production");
        assert!(
            findings(&[("docker-compose.yml", production.as_str()), (".env.production", DB_ENV), (".env", "A=1\n")])
                .is_empty()
        );
    }

    #[test]
    fn a_script_that_loads_the_env_file_into_the_shell() {
        let script = "#!/bin/sh\nset -eu\nset -a\n. ./db.env\nset +a\ndocker compose up -d\n";
        let files = [("docker-compose.yml", COMPOSE), ("db.env", DB_ENV), (".env", "A=1\n"), ("deploy.sh", script)];
        assert!(findings(&files).is_empty());
        let flag = "#!/bin/sh\nset -eu\ndocker compose --env-file prod.env up -d\n";
        let files = [("docker-compose.yml", COMPOSE), ("db.env", DB_ENV), (".env", "A=1\n"), ("deploy.sh", flag)];
        assert!(findings(&files).is_empty());
    }
}
