use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{Duration, Percent};

/// How a new version replaces the running one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// `rolling` (replace a batch at a time), `blue-green` (start a full new
    /// set, switch at once) or `canary` (send `canary_weight` percent of
    /// traffic to the new version until promoted). Default `rolling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Rolling: replicas replaced at a time. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// Canary: percent of traffic the new version gets. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_weight: Option<Percent>,
    /// How long new replicas may take to become ready before the deploy is
    /// abandoned. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_timeout: Option<Duration>,
    /// How long old replicas keep finishing in-flight requests after traffic
    /// moves away. Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_timeout: Option<Duration>,
    /// Stop a new version that never becomes healthy and keep the old one
    /// serving. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Rolling,
    BlueGreen,
    Canary,
}
