//! The stable codes of every spec diagnostic, in one table. A code is never
//! reused for another meaning once published.

use berth_diagnostics::Code;

/// Declares every code once: the constant, its stable id and name, and the
/// one-line description the generated reference shows.
macro_rules! codes {
    ($($name:ident => $id:literal, $slug:literal, $doc:literal;)*) => {
        $(
            #[doc = $doc]
            pub const $name: Code = Code::new($id, $slug);
        )*

        /// Every code with its one-line description, for the generated reference.
        pub const ALL: &[(Code, &str)] = &[$(($name, $doc),)*];
    };
}

codes! {
    YAML_SYNTAX => "S001", "yaml-syntax", "The file is not valid YAML.";
    EMPTY_SPEC => "S002", "empty-spec", "The file holds no document.";
    DUPLICATE_KEY => "S003", "duplicate-key", "A key appears twice in one mapping; YAML tools disagree on which one wins.";
    UNKNOWN_KEY => "S101", "unknown-key", "A key the spec does not define (often a typo).";
    WRONG_TYPE => "S102", "wrong-type", "A value of the wrong type, such as text where a number belongs.";
    MISSING_KEY => "S103", "missing-key", "A required key is absent.";
    INVALID_VALUE => "S104", "invalid-value", "A value of the right type that is not allowed, such as a malformed duration.";
    OUT_OF_RANGE => "S105", "out-of-range", "A number outside the range the setting accepts.";
    UNSUPPORTED_VERSION => "S106", "unsupported-version", "A spec `version` this berth does not read.";
    INVALID_NAME => "S107", "invalid-name", "A name that is not a DNS label, so some targets cannot use it.";
    DANGLING_REFERENCE => "S201", "dangling-reference", "A reference to a service, port, dependency, secret, zone or receiver that is not declared.";
    PORT_CLASH => "S202", "port-clash", "Two things claim the same port.";
    CONTRADICTION => "S203", "contradiction", "Settings that cannot all hold, such as fixed replicas together with autoscaling.";
    DUPLICATE_NAME => "S204", "duplicate-name", "Two things of one kind share a name.";
    MISSING_SETTING => "S205", "missing-setting", "A feature is asked for without a setting it needs.";
    MISSING_FILE => "S207", "missing-file", "A file the spec names (a service's configuration file) cannot be read.";
    NOT_APPLICABLE => "S206", "not-applicable", "A setting that does not apply where it is written, such as Redis settings on PostgreSQL.";
    SECRET_IN_SPEC => "S301", "secret-in-spec", "A secret value written into the spec instead of referenced.";
    UNUSED => "S302", "unused", "A declared secret, dependency or rate limit that nothing uses.";
    INSECURE_SETTING => "S303", "insecure-setting", "A setting that weakens the deployment's security.";
    UNKNOWN_ENVIRONMENT => "S401", "unknown-environment", "An environment asked for that the spec does not declare.";
}

/// Custom `Deserialize` impls can only return text; a leading `[S301] ` picks
/// the code. Without one the problem is an [`INVALID_VALUE`].
pub fn split_prefix(message: &str) -> (Code, String) {
    if let Some(rest) = message.strip_prefix('[')
        && let Some((id, text)) = rest.split_once("] ")
        && let Some((code, _)) = ALL.iter().find(|(c, _)| c.id == id)
    {
        return (*code, text.to_owned());
    }
    (INVALID_VALUE, message.to_owned())
}
