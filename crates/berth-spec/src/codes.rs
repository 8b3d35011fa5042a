//! The stable codes of every spec diagnostic, in one table. A code is never
//! reused for another meaning once published.

use berth_diagnostics::Code;

pub const YAML_SYNTAX: Code = Code::new("S001", "yaml-syntax");
pub const EMPTY_SPEC: Code = Code::new("S002", "empty-spec");
pub const DUPLICATE_KEY: Code = Code::new("S003", "duplicate-key");
pub const UNKNOWN_KEY: Code = Code::new("S101", "unknown-key");
pub const WRONG_TYPE: Code = Code::new("S102", "wrong-type");
pub const MISSING_KEY: Code = Code::new("S103", "missing-key");
pub const INVALID_VALUE: Code = Code::new("S104", "invalid-value");
pub const OUT_OF_RANGE: Code = Code::new("S105", "out-of-range");
pub const UNSUPPORTED_VERSION: Code = Code::new("S106", "unsupported-version");
pub const INVALID_NAME: Code = Code::new("S107", "invalid-name");
pub const DANGLING_REFERENCE: Code = Code::new("S201", "dangling-reference");
pub const PORT_CLASH: Code = Code::new("S202", "port-clash");
pub const CONTRADICTION: Code = Code::new("S203", "contradiction");
pub const DUPLICATE_NAME: Code = Code::new("S204", "duplicate-name");
pub const MISSING_SETTING: Code = Code::new("S205", "missing-setting");
pub const NOT_APPLICABLE: Code = Code::new("S206", "not-applicable");
pub const SECRET_IN_SPEC: Code = Code::new("S301", "secret-in-spec");
pub const UNUSED: Code = Code::new("S302", "unused");
pub const INSECURE_SETTING: Code = Code::new("S303", "insecure-setting");
pub const UNKNOWN_ENVIRONMENT: Code = Code::new("S401", "unknown-environment");

/// Every code with a one-line description, for the generated reference.
pub const ALL: &[(Code, &str)] = &[
    (YAML_SYNTAX, "The file is not valid YAML."),
    (EMPTY_SPEC, "The file holds no document."),
    (DUPLICATE_KEY, "A key appears twice in one mapping; YAML tools disagree on which one wins."),
    (UNKNOWN_KEY, "A key the spec does not define (often a typo)."),
    (WRONG_TYPE, "A value of the wrong type, such as text where a number belongs."),
    (MISSING_KEY, "A required key is absent."),
    (INVALID_VALUE, "A value of the right type that is not allowed, such as a malformed duration."),
    (OUT_OF_RANGE, "A number outside the range the setting accepts."),
    (UNSUPPORTED_VERSION, "A spec `version` this berth does not read."),
    (INVALID_NAME, "A name that is not a DNS label, so some targets cannot use it."),
    (DANGLING_REFERENCE, "A reference to a service, port, dependency, secret, zone or receiver that is not declared."),
    (PORT_CLASH, "Two things claim the same port."),
    (CONTRADICTION, "Settings that cannot all hold, such as fixed replicas together with autoscaling."),
    (DUPLICATE_NAME, "Two things of one kind share a name."),
    (MISSING_SETTING, "A feature is asked for without a setting it needs."),
    (NOT_APPLICABLE, "A setting that does not apply where it is written, such as Redis settings on PostgreSQL."),
    (SECRET_IN_SPEC, "A secret value written into the spec instead of referenced."),
    (UNUSED, "A declared secret, dependency or rate limit that nothing uses."),
    (INSECURE_SETTING, "A setting that weakens the deployment's security."),
    (UNKNOWN_ENVIRONMENT, "An environment asked for that the spec does not declare."),
];

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
