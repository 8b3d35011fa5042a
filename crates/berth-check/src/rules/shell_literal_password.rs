use berth_diagnostics::Span;

use super::credentials::{placeholder, url_passwords};
use crate::graph::shell::Word;
use crate::rule::{Context, Rule, Sink};

crate::declare_rule! {
    /// A password written into a script (`PGPASSWORD=s3cret`, `mysql
    /// -ps3cret`, `--password=s3cret`, `postgres://app:s3cret@db/app`) is in
    /// Git, in every copy of the repository and in every backup of it, and
    /// when it is on a command line, in `ps` output and `/proc/<pid>/cmdline`
    /// for every user of the machine while the command runs. Values that
    /// expand at run time (`"$DB_PASSWORD"`, `$(cat /run/secrets/db)`) and
    /// placeholders (`changeme`, `<password>`) are not reported.
    ShellLiteralPassword {
        code: "B004",
        name: "shell-literal-password",
        severity: Error,
        fix: "read it at run time from a file only the script's user can read (`PGPASSFILE`, `~/.my.cnf`, a mounted secret) or from the environment the scheduler provides",
    }
}

/// Variables whose value is a password or token.
fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const EXACT: [&str; 7] = ["PGPASSWORD", "MYSQL_PWD", "REDISCLI_AUTH", "PASSWORD", "PASSWD", "SSHPASS", "TOKEN"];
    const SUFFIXES: [&str; 9] =
        ["_PASSWORD", "_PASSWD", "_PASS", "_SECRET", "_TOKEN", "_API_KEY", "_APIKEY", "_SECRET_KEY", "_ACCESS_KEY"];
    EXACT.contains(&upper.as_str()) || SUFFIXES.iter().any(|s| upper.ends_with(s))
}

/// A literal value that is a secret: not a placeholder, not a path.
fn literal_secret(value: &str) -> bool {
    let flag =
        matches!(value.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no" | "on" | "off" | "0" | "1");
    // A file that holds the secret names it, it is not it (`JWT_SECRET=jwt-secret.yaml`).
    let file = [".yaml", ".yml", ".json", ".pem", ".key", ".crt", ".txt", ".env"]
        .iter()
        .any(|e| value.to_ascii_lowercase().ends_with(e));
    !placeholder(value)
        && !flag
        && !file
        && !value.starts_with('/')
        && !value.starts_with("./")
        && !value.starts_with('~')
}

const MYSQL: [&str; 13] = [
    "mysql",
    "mysqldump",
    "mysqladmin",
    "mysqlimport",
    "mysqlshow",
    "mysqlcheck",
    "mysqlpump",
    "mysqlbinlog",
    "mariadb",
    "mariadb-dump",
    "mariadb-admin",
    "mariadb-import",
    "mariadb-check",
];

const MONGO: [&str; 8] =
    ["mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport", "mongostat", "mongotop"];

/// Where `program`'s arguments carry a literal password.
fn password_arguments(program: &str, args: &[Word]) -> Vec<Span> {
    let mut out = Vec::new();
    let literal = |w: &Word| w.literal.clone().filter(|v| literal_secret(v));
    // sshpass's own options end at the command it wraps (`sshpass -p x ssh -p 2222`).
    let args = if program == "sshpass" {
        let mut end = args.len();
        let mut i = 0;
        while i < args.len() {
            let text = args[i].literal.as_deref().unwrap_or("");
            if !text.starts_with('-') {
                end = i;
                break;
            }
            i += if matches!(text, "-p" | "-f" | "-e" | "-d" | "-P") { 2 } else { 1 };
        }
        &args[..end.min(args.len())]
    } else {
        args
    };
    for (i, word) in args.iter().enumerate() {
        let next = args.get(i + 1);
        if let Some(text) = &word.literal {
            let attached = text.strip_prefix("--password=").or_else(|| text.strip_prefix("--pass="));
            let separate = match program {
                "redis-cli" => text == "-a" || text == "--pass",
                "sshpass" => text == "-p",
                _ if MONGO.contains(&program) => text == "-p" || text == "--password",
                _ => false,
            };
            if let Some(value) = attached
                && literal_secret(value)
            {
                out.push(word.span);
            } else if MYSQL.contains(&program)
                && let Some(value) = text.strip_prefix("-p")
                && !value.is_empty()
                && literal_secret(value)
            {
                out.push(word.span);
            } else if program == "sshpass"
                && let Some(value) = text.strip_prefix("-p")
                && !value.is_empty()
                && literal_secret(value)
            {
                out.push(word.span);
            } else if separate && let Some(next) = next.filter(|n| literal(n).is_some()) {
                out.push(next.span);
            } else if program == "curl"
                && (text == "-u" || text == "--user")
                && let Some(next) = next
                && let Some(credentials) = literal(next)
                && credentials.split_once(':').is_some_and(|(_, password)| literal_secret(password))
            {
                out.push(next.span);
            }
        }
        // `postgres://app:s3cret@db/app`, also inside a quoted or partly
        // expanded word, as long as the password itself is written out.
        for (start, end) in url_passwords(&word.text) {
            out.push(Span::new(word.span.start + start, word.span.start + end));
        }
    }
    out
}

impl Rule for ShellLiteralPassword {
    fn check(&self, cx: &Context<'_>, sink: &mut Sink<'_>) {
        for script in cx.graph.scripts {
            for a in &script.assignments {
                let Some(value) = &a.value else { continue };
                if a.in_error {
                    continue;
                }
                // `HF_TOKEN='HF_TOKEN'  # Update this`: the name as its own value.
                if secret_name(&a.name)
                    && let Some(literal) = &value.literal
                    && literal_secret(literal)
                    && !literal.eq_ignore_ascii_case(&a.name)
                {
                    sink.report(
                        script.file,
                        value.span,
                        format!("`{}` is set to a literal secret in the script", a.name),
                    );
                    continue;
                }
                for (start, end) in url_passwords(&value.text) {
                    sink.report(
                        script.file,
                        Span::new(value.span.start + start, value.span.start + end),
                        format!("`{}` holds a URL with a literal password", a.name),
                    );
                }
            }
            for command in &script.commands {
                if command.in_error {
                    continue;
                }
                let Some((program, args)) = command.program() else { continue };
                let mut spans = password_arguments(program, args);
                spans.sort();
                spans.dedup();
                for span in spans {
                    sink.report(
                        script.file,
                        span,
                        format!("a literal password on `{program}`'s command line (in the script and in `ps` output)"),
                    );
                }
            }
        }
    }
}
