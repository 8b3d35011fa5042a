use super::restore_without_on_error_stop::psql;
use crate::graph::shell::{self, Arg};
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// PostgreSQL cannot drop the database a session is connected to:
    /// `psql -d app -c 'DROP DATABASE app'` always fails with `cannot drop
    /// the currently open database` (also with `IF EXISTS` and `WITH
    /// (FORCE)`). A restore or reset script written this way never starts
    /// from an empty database: under `set -e` it stops there, without it
    /// the `CREATE DATABASE` after it fails too and the dump is loaded over
    /// the old data. Reported when SQL given to psql with `-c`/`--command`
    /// drops the database psql connects to: the same name (unquoted SQL
    /// names compared in lower case, as PostgreSQL folds them) or the same
    /// variable (`-d "$DB_NAME" -c "DROP DATABASE IF EXISTS $DB_NAME"`),
    /// the database given by `-d`/`--dbname`, the first argument that is
    /// no option, or the path of a `postgresql://` URI or the `dbname=` of
    /// a connection string. Not reported when psql names no database (it
    /// then connects to `$PGDATABASE` or the user's name), when a word may
    /// carry more options (`$PSQL_OPTS`), or for `dropdb`, which connects
    /// to the `postgres` database.
    DropConnectedDatabase {
        code: "B009",
        name: "drop-connected-database",
        severity: Error,
        fix: "connect to another database to drop this one (`psql -d postgres -c 'DROP DATABASE app'`, or `dropdb --if-exists app`), then create it again before restoring",
    }
}

/// `${NAME}` written as `$NAME` where that means the same (not before a
/// letter, digit or `_`), so both spellings of a variable compare equal.
fn plain_variables(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let inner = after.get(2..).unwrap_or("");
        let plain = |end: usize| {
            let next = inner.get(end + 1..).and_then(|r| r.chars().next());
            shell::is_name(inner.get(..end).unwrap_or(""))
                && !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        match inner.find('}') {
            Some(end) if plain(end) => {
                out.push('$');
                out.push_str(inner.get(..end).unwrap_or(""));
                rest = inner.get(end + 1..).unwrap_or("");
            }
            _ => {
                out.push_str("${");
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An argument's value as written, without the quotes around it or in
/// it: the literal, or the text of a word that expands (`"$DB_NAME"` is
/// `$DB_NAME`).
fn value(arg: &Arg<'_>) -> String {
    match arg.literal {
        Some(literal) => literal.to_owned(),
        None => arg.text.chars().filter(|c| *c != '"').collect(),
    }
}

/// The database a connection argument names: a name, the path of a URI,
/// or `dbname=` of a connection string.
fn database(arg: &Arg<'_>) -> Option<String> {
    let text = value(arg);
    let name = if let Some((_, rest)) = text.split_once("://") {
        let path = rest.split_once('/')?.1;
        path.split(['?', '#']).next().unwrap_or(path).to_owned()
    } else if text.contains('=') {
        let setting = text.split_whitespace().find_map(|s| s.strip_prefix("dbname="))?;
        setting.trim_matches('\'').to_owned()
    } else {
        text
    };
    let name = plain_variables(&name);
    (!name.is_empty()).then_some(name)
}

/// The names `DROP DATABASE [IF EXISTS] <name>` statements in `sql` drop:
/// (name, whether it was quoted).
fn dropped(sql: &str) -> Vec<(String, bool)> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, pair) in words.windows(2).enumerate() {
        let statement_start = i == 0 || words.get(i - 1).is_some_and(|w| w.ends_with(';'));
        if !(statement_start && pair[0].eq_ignore_ascii_case("drop") && pair[1].eq_ignore_ascii_case("database")) {
            continue;
        }
        let mut at = i + 2;
        if words.get(at).is_some_and(|w| w.eq_ignore_ascii_case("if"))
            && words.get(at + 1).is_some_and(|w| w.eq_ignore_ascii_case("exists"))
        {
            at += 2;
        }
        let Some(&word) = words.get(at) else { continue };
        let word = word.split(';').next().unwrap_or(word).replace('\\', "");
        let quoted = word.len() > 1 && word.starts_with('"') && word.ends_with('"');
        let name = if quoted { word.get(1..word.len() - 1).unwrap_or("").to_owned() } else { word };
        if !name.is_empty() {
            out.push((plain_variables(&name), quoted));
        }
    }
    out
}

/// The text of SQL given with `-c`: the literal, or as written without
/// the quotes around it.
fn sql_text(arg: &Arg<'_>) -> String {
    match arg.literal {
        Some(literal) => literal.to_owned(),
        None => {
            let text = arg.text;
            let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
            inner.unwrap_or(text).to_owned()
        }
    }
}

/// The same database: unquoted SQL names fold to lower case; a variable
/// is the same variable.
fn same(dropped: &str, quoted: bool, connected: &str) -> bool {
    if quoted || dropped.contains('$') { dropped == connected } else { dropped.to_ascii_lowercase() == connected }
}

impl Rule for DropConnectedDatabase {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for script in cx.graph.scripts {
            for command in script.commands.iter().filter(|c| !c.in_error) {
                let Some((_, args)) = command.runs_args(&["psql"]) else { continue };
                let psql = psql(&args);
                if psql.opaque {
                    continue;
                }
                // `-c '\c postgres' -c 'DROP DATABASE app'` connects elsewhere first; a file may too.
                let reconnects = psql.commands.iter().any(|c| sql_text(c).trim_start().starts_with('\\'));
                if reconnects || !psql.files.is_empty() {
                    continue;
                }
                let Some(connected) = psql.dbname.as_ref().and_then(database) else { continue };
                for sql in &psql.commands {
                    let Some((name, _)) = dropped(&sql_text(sql)).into_iter().find(|(n, q)| same(n, *q, &connected))
                    else {
                        continue;
                    };
                    sink.report(
                        script.file,
                        sql.span,
                        format!(
                            "this drops `{name}`, the database psql is connected to: PostgreSQL refuses (\"cannot \
                             drop the currently open database\")"
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]
    use super::*;

    fn findings(line: &str) -> usize {
        let text = format!("#!/bin/bash\nset -euo pipefail\n{line}\n");
        crate::rules::findings_of("B009", &[("scripts/reset-db.sh", &text)]).len()
    }

    #[test]
    fn names_and_variables() {
        assert_eq!(plain_variables("${DB_NAME} ${DB_NAME}_test ${1:-x} $A"), "$DB_NAME ${DB_NAME}_test ${1:-x} $A");
        assert_eq!(dropped("DROP DATABASE IF EXISTS \"App\"; CREATE DATABASE app;"), [("App".to_owned(), true)]);
        assert_eq!(dropped("drop database app with (force)"), [("app".to_owned(), false)]);
        assert!(dropped("select 'drop database app'").is_empty());
        let uri =
            Arg { literal: Some("postgresql://u@db:5432/app?sslmode=require"), text: "", span: Default::default() };
        assert_eq!(database(&uri).as_deref(), Some("app"));
        let conninfo = Arg { literal: Some("host=db dbname=app user=u"), text: "", span: Default::default() };
        assert_eq!(database(&conninfo).as_deref(), Some("app"));
        let bare = Arg { literal: Some("postgresql://u@db"), text: "", span: Default::default() };
        assert_eq!(database(&bare), None);
    }

    #[test]
    fn drops_the_connected_database() {
        assert_eq!(findings("psql -d app -c 'DROP DATABASE app'"), 1);
        assert_eq!(findings("psql app -c \"drop database if exists app;\""), 1);
        assert_eq!(findings("psql \"postgresql://restore@db/app\" -c 'DROP DATABASE App'"), 1);
        assert_eq!(findings("psql -U postgres -d \"$DB_NAME\" -c \"DROP DATABASE IF EXISTS \\\"${DB_NAME}\\\";\""), 1);
        assert_eq!(findings("docker exec db psql -U postgres --dbname=shop --command='DROP DATABASE shop'"), 1);
    }

    #[test]
    fn drops_another_database_or_connects_to_an_unknown_one() {
        assert_eq!(findings("psql -d postgres -c 'DROP DATABASE app'"), 0);
        assert_eq!(findings("psql -U postgres -c 'DROP DATABASE app'"), 0);
        assert_eq!(findings("psql -d app -c 'DROP DATABASE \"App\"'"), 0);
        assert_eq!(findings("psql -d \"$ADMIN_DB\" -c \"DROP DATABASE $DB_NAME\""), 0);
        assert_eq!(findings("psql \"$DATABASE_URL\" -c 'DROP DATABASE app'"), 0);
        assert_eq!(findings("psql $PSQL_OPTS -d app -c 'DROP DATABASE app'"), 0);
        assert_eq!(findings("dropdb --if-exists app"), 0);
        assert_eq!(findings("psql -d app -c 'DROP TABLE app'"), 0);
        assert_eq!(findings("psql -d app -c '\\c postgres' -c 'DROP DATABASE app'"), 0);
    }
}
