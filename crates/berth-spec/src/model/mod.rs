//! The types of `berth.yaml`, version 1. Doc comments here are the user
//! documentation: they become the JSON Schema descriptions and the generated
//! reference page, so write them for the person editing the spec.

mod dependency;
mod deploy;
mod edge;
mod monitoring;
mod secret;
mod service;
mod targets;
pub mod units;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use dependency::*;
pub use deploy::*;
pub use edge::*;
pub use monitoring::*;
pub use secret::*;
pub use service::*;
pub use targets::*;

/// The spec format version this berth reads.
pub const SPEC_VERSION: u32 = 1;

/// One web service stack: its services, the databases and caches they use,
/// the edge in front, monitoring, backups and deploy policy, for every
/// environment it runs in.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Spec format version. Must be `1`.
    pub version: u32,
    /// Project name: a DNS label (lowercase letters, digits and `-`, at most
    /// 63 characters). Everything berth renders is named after it.
    pub name: String,
    /// One line about what this project is, for generated docs and runbooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The processes that make up the project, by name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// PostgreSQL and Redis instances the services use, by name.
    #[serde(default)]
    pub dependencies: BTreeMap<String, Dependency>,
    /// Secrets, declared by name with where their values come from. Values
    /// are never written in the spec.
    #[serde(default)]
    pub secrets: BTreeMap<String, Secret>,
    /// The public entry point: hosts, TLS, routes, rate limits and auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<Edge>,
    /// Metrics scraping, alerts, notification receivers and dashboards.
    #[serde(default)]
    pub monitoring: Monitoring,
    /// How new versions roll out, for every service unless a service says otherwise.
    #[serde(default)]
    pub deploy: Deploy,
    /// Overlays by environment name (`development`, `staging`, `production`,
    /// or any name). Each overlay has the same keys as the top level and is
    /// merged over it: mappings merge key by key, lists and plain values
    /// replace, and `null` removes a key.
    #[serde(default, skip_serializing)]
    pub environments: BTreeMap<String, Overlay>,
    /// Settings that only one deployment target reads.
    #[serde(default)]
    pub targets: Targets,
}

/// An environment overlay: any top-level keys except `version`, `name` and
/// `environments`, each optional. Checked after it is merged over the base.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Overlay;

impl<'de> Deserialize<'de> for Overlay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Overlays are checked as part of the merged spec, not on their own.
        serde::de::IgnoredAny::deserialize(d).map(|_| Self)
    }
}

impl JsonSchema for Overlay {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Overlay".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Replaced by the schema generator with the top level minus `required`.
        schemars::json_schema!({ "type": "object" })
    }
}
