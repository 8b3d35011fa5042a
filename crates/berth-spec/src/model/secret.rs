use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::de::HELP_SEPARATOR;

/// Where a secret's value comes from. Only the reference is written here;
/// berth reads the value at run time and never writes it into a rendered file
/// or a log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// What the secret is for, for the runbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Environment variable that holds the value when berth runs the stack
    /// itself. Default: `BERTH_SECRET_<NAME>` (upper case, `-` as `_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// File that holds the value (mode 0600), as an alternative to `env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// AWS Secrets Manager ARN, used by the ECS and CloudFormation targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<String>,
    /// Google Secret Manager secret (`projects/P/secrets/S`), used by Cloud Run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcp: Option<String>,
    /// Existing Kubernetes Secret holding the value. Default: a Secret named
    /// after the project with this secret's name as key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesSecretRef>,
}

/// A key in an existing Kubernetes Secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSecretRef {
    /// Name of the Secret object.
    pub name: String,
    /// Key inside the Secret.
    pub key: String,
}

/// A reference to a declared secret: `{ secret: NAME }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Name of a secret declared under the top-level `secrets:`.
    pub secret: String,
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretRefVisitor)
    }
}

struct SecretRefVisitor;

impl<'de> Visitor<'de> for SecretRefVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret reference `{ secret: NAME }`")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
        Err(E::custom(format!(
            "[S301] a secret value is never written into the spec{HELP_SEPARATOR}declare it under `secrets:` and reference it here as `{{ secret: NAME }}`; berth reads the value from the environment or a file at run time"
        )))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SecretRef, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SecretRef, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
        let mut secret = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "secret" {
                secret = Some(map.next_value::<String>()?);
            } else {
                let _: de::IgnoredAny = map.next_value()?;
                return Err(de::Error::custom(format!(
                    "unknown key `{key}` in a secret reference{HELP_SEPARATOR}a secret reference has one key: `{{ secret: NAME }}`"
                )));
            }
        }
        secret.map(|secret| SecretRef { secret }).ok_or_else(|| de::Error::missing_field("secret"))
    }
}
