use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::{ByteSize, Duration, Percent, Rate};

/// The public entry point in front of the services.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// Host names the edge answers for. Default: any host.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Ports the edge listens on.
    #[serde(default)]
    pub listen: Listen,
    /// TLS certificates. Without it the edge serves plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// Redirect HTTP to HTTPS. Default true when `tls` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_https: Option<bool>,
    /// Security headers added to every response.
    #[serde(default)]
    pub headers: Headers,
    /// Named rate limits that routes refer to.
    #[serde(default)]
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// Path prefixes and the services that answer them. The longest
    /// matching prefix wins.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Credentials the edge checks before a request reaches a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<EdgeAuth>,
    /// Compress text responses. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gzip: Option<bool>,
    /// Largest request body accepted. Default `1Mi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_limit: Option<ByteSize>,
    /// Timeouts towards clients and services.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Proxies in front of the edge (a cloud load balancer, a CDN), as
    /// addresses or CIDR ranges. Only a connection from one of them may say
    /// who the client is with `X-Forwarded-For`: the client address is then
    /// the nearest one in that header that is not a trusted proxy, and
    /// allowlists, rate limits and logs use it. From anyone else the header
    /// is replaced by the connection's address. Default: none.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// Ports the edge binds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// Plain HTTP port. Default 80 in containers, 8080 when berth runs locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<u16>,
    /// HTTPS port. Default 443 in containers, 8443 when berth runs locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<u16>,
    /// Admin port for the edge's status page and metrics, on loopback only.
    /// Default 9180.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<u16>,
}

/// Where the edge's certificate comes from.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// `self-signed` (generated, for local use), `acme` (Let's Encrypt or
    /// another ACME CA) or `files` (your own `cert` and `key`).
    pub mode: TlsMode,
    /// ACME: contact e-mail for the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// ACME: directory URL. Default: Let's Encrypt production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme_directory: Option<String>,
    /// Files: PEM certificate chain path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// Files: PEM private key path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Oldest TLS version accepted: `1.2` or `1.3`. Default `1.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    SelfSigned,
    Acme,
    Files,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
pub enum TlsVersion {
    #[serde(rename = "1.2")]
    V1_2,
    #[serde(rename = "1.3")]
    V1_3,
}

/// Security headers. All are on by default with safe values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Headers {
    /// `Strict-Transport-Security` max-age; `0s` turns HSTS off. Default `365d` (with TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts: Option<Duration>,
    /// `X-Frame-Options`. Default `DENY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_options: Option<String>,
    /// `Referrer-Policy`. Default `strict-origin-when-cross-origin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_policy: Option<String>,
    /// `Content-Security-Policy`. Default: none (it depends on the app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_security_policy: Option<String>,
    /// Further headers to add to every response.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// A token bucket per client: `rate` refills it, `burst` is its size.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained rate per client: `10/s`, `600/m`.
    pub rate: Rate,
    /// Requests a client may send at once above the rate before getting 429.
    #[serde(default)]
    pub burst: u32,
    /// What counts as one client: `client-ip` or `api-key`. Default `client-ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<RateKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RateKey {
    ClientIp,
    ApiKey,
}

/// A path prefix routed to a service.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Path prefix, starting with `/`.
    pub path: String,
    /// Only for this host (one of `edge.hosts`). Default: every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Service that answers.
    pub service: String,
    /// Named port of the service. Default: the port named `http`, else the first port not named
    /// `metrics`, `admin`, `management`, `health`, `debug` or `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Shares of the route's requests sent to other services, such as the
    /// next version of `service` deployed as a service of its own; `service`
    /// answers the rest. Services on one route are sticky alike or not at
    /// all: a sticky route's share is chosen per client, so a client stays
    /// with one service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<Split>,
    /// Service that answers only while every replica of `service` is down
    /// (a static "we'll be right back" page, a read-only mirror). It listens
    /// on its own serving port (named `http`, else its first port not named like a side listener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Allow WebSocket upgrades on this route.
    #[serde(default)]
    pub websocket: bool,
    /// Remove the prefix before passing the request on.
    #[serde(default)]
    pub strip_prefix: bool,
    /// How long the service may take to answer. Default: `edge.timeouts.read`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Largest request body on this route. Default: `edge.body_limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_limit: Option<ByteSize>,
    /// Only these client addresses or CIDR ranges may use the route (such
    /// as `10.0.0.0/8` for `/metrics`). Default: everyone.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Name of a rate limit from `edge.rate_limits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<String>,
    /// Credentials required on this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<RouteAuth>,
}

/// A share of a route's requests (`routes[].split`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Service that answers this share.
    pub service: String,
    /// Named port of that service. Default: as for the route's `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Share of the route's requests, a whole percentage from 1 to 99
    /// (the shares of one route add up to at most 99).
    pub weight: Percent,
}

/// What a route requires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteAuth {
    /// Accepted credentials: `api-key`, `jwt`, or both (either passes).
    pub accept: Vec<AuthMethod>,
    /// Roles of which the caller needs at least one. Default: any role.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    ApiKey,
    Jwt,
}

/// Credentials the edge accepts.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeAuth {
    /// API keys, sent as `Authorization: Bearer KEY` or `X-API-Key: KEY`.
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// JSON Web Tokens, sent as `Authorization: Bearer TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Jwt>,
}

/// One API key. The edge stores only its SHA-256 hash.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Who holds the key, for logs.
    pub name: String,
    /// Declared secret holding the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Hex SHA-256 of the key, as an alternative to `secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Roles the key grants.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Last day the key is valid (`YYYY-MM-DD`, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// How JWTs are checked.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    /// `HS256` (shared secret) or `RS256` (public key).
    pub algorithm: JwtAlgorithm,
    /// HS256: declared secret holding the signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// RS256: path to the PEM public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Required `iss` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Required `aud` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`. Default `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leeway: Option<Duration>,
    /// Claim that lists the caller's roles. Default `roles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles_claim: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum JwtAlgorithm {
    HS256,
    RS256,
}

/// Timeouts. The header and idle timeouts are what stop slowloris clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Connecting to a service. Default `5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<Duration>,
    /// Waiting for a service's response. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Duration>,
    /// Sending a request body to a service. Default `60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<Duration>,
    /// A client sending its request headers. Default `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Duration>,
    /// An idle keep-alive connection. Default `75s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<Duration>,
}
