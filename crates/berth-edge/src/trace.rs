//! OpenTelemetry traces of the requests the edge serves (`monitoring.tracing`).
//!
//! Each request gets a server span. Its trace continues the client's
//! `traceparent` when that is valid W3C Trace Context (the caller's sampling
//! decision kept), else starts a new trace sampled at the spec's ratio by
//! its trace id, as the services' `parentbased_traceidratio` samplers do.
//! The service receives the edge's span as its parent in `traceparent`; a
//! client's invalid `traceparent` or orphaned `tracestate` never reaches it.
//!
//! Finished spans go through a bounded queue to one exporter task that
//! sends them in batches (OTLP over gRPC or HTTP/protobuf, plain HTTP). A
//! collector that is slow or down never holds a request: spans that do not
//! fit are dropped and counted (`berth_edge_trace_spans_dropped_total`).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status};
use prost::Message as _;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::EdgeError;

/// Spans waiting for the exporter; past this they are dropped.
pub const QUEUE: usize = 8192;
/// Spans per export request.
pub const BATCH: usize = 512;
/// The longest a finished span waits before it is sent.
pub const FLUSH: Duration = Duration::from_secs(1);
/// One export's deadline, connection included.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the edge exports, from the spec's `monitoring.tracing`.
#[derive(Debug, Clone)]
pub struct TraceConfig {
    /// Where export requests go: the collector's address and the full
    /// request path (`/v1/traces`, or the gRPC method).
    pub collector: Uri,
    pub grpc: bool,
    /// Share of new traces recorded, 0.0 to 1.0.
    pub ratio: f64,
    /// `service.name` and the rest of the resource: the project's edge.
    pub resource: Vec<(String, String)>,
}

impl TraceConfig {
    /// The edge's export settings for the spec's collector.
    pub fn new(tracing: &berth_spec::Tracing, project: &str, environment: Option<&str>) -> Result<Self, EdgeError> {
        let grpc = tracing.protocol == berth_spec::OtlpProtocol::Grpc;
        let base = tracing.endpoint.trim_end_matches('/');
        let (scheme, rest) =
            base.split_once("://").filter(|(scheme, _)| *scheme == "http" || *scheme == "https").ok_or_else(|| {
                EdgeError::Config(format!(
                    "monitoring.tracing: `{}` is not an http:// or https:// endpoint",
                    tracing.endpoint
                ))
            })?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // OTLP/HTTP appends the signal's path to a base endpoint; gRPC
        // names its method on the collector's address.
        let path = if grpc {
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export".to_owned()
        } else {
            format!("{}/v1/traces", rest[authority.len()..].trim_end_matches('/'))
        };
        let port = tracing.port();
        let host = if authority.ends_with(']') || authority.rsplit_once(':').is_none() {
            format!("{authority}:{port}")
        } else {
            authority.to_owned()
        };
        let collector = Uri::try_from(format!("{scheme}://{host}{path}"))
            .map_err(|e| EdgeError::Config(format!("monitoring.tracing: `{}`: {e}", tracing.endpoint)))?;
        let mut resource = vec![
            ("service.name".to_owned(), format!("{project}-edge")),
            ("service.namespace".to_owned(), project.to_owned()),
        ];
        if let Some(env) = environment {
            resource.push(("deployment.environment.name".to_owned(), env.to_owned()));
        }
        Ok(Self { collector, grpc, ratio: tracing.sample.map_or(1.0, |p| p.0 / 100.0), resource })
    }
}

/// The trace context of one request through the edge.
#[derive(Debug, Clone)]
pub struct Context {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// The client's span, when it sent a valid `traceparent`.
    pub parent: Option<[u8; 8]>,
    pub sampled: bool,
    pub started: SystemTime,
}

fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `traceparent` as W3C Trace Context reads it (lower-case hex, no
/// all-zero ids, version `ff` invalid, a later version read by its first
/// four fields): (trace id, parent span id, sampled). Two of them are
/// none.
pub fn parse_traceparent(headers: &HeaderMap) -> Option<([u8; 16], [u8; 8], bool)> {
    let mut values = headers.get_all("traceparent").iter();
    let value = values.next()?.to_str().ok()?.trim_matches([' ', '\t']);
    if values.next().is_some() {
        return None;
    }
    let version = hex_bytes::<1>(value.get(..2)?)?[0];
    if version == 0xff || (version == 0 && value.len() != 55) || (value.len() > 55 && !value[55..].starts_with('-')) {
        return None;
    }
    if value.get(2..3) != Some("-") || value.get(35..36) != Some("-") || value.get(52..53) != Some("-") {
        return None;
    }
    let trace_id = hex_bytes::<16>(value.get(3..35)?)?;
    let parent = hex_bytes::<8>(value.get(36..52)?)?;
    let flags = hex_bytes::<1>(value.get(53..55)?)?[0];
    if trace_id == [0; 16] || parent == [0; 8] {
        return None;
    }
    Some((trace_id, parent, flags & 1 == 1))
}

/// Random bytes from the OS-seeded hasher state (as the affinity cookie).
fn random<const N: usize>() -> [u8; N] {
    use std::hash::BuildHasher as _;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = std::hash::RandomState::new();
    let mut out = [0u8; N];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let word = state.hash_one((n, i)).to_be_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    out
}

/// OpenTelemetry's TraceIdRatioBased decision: the trace id's last eight
/// bytes against the ratio, so every component with the same ratio
/// decides the same for one trace.
fn sampled_by_ratio(trace_id: &[u8; 16], ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let mut last = [0u8; 8];
    last.copy_from_slice(&trace_id[8..]);
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    (u64::from_be_bytes(last) >> 1) < bound
}

impl Context {
    /// Starts the edge's span for a request and rewrites its trace headers
    /// for the service: `traceparent` names the edge's span, `tracestate`
    /// passes only beside a valid `traceparent`. A client's trace is
    /// continued, but its sampling decision is taken only from a trusted
    /// proxy: anyone else could have every request recorded and exported
    /// at `sample: 0%`; the spec's ratio decides by the trace id instead.
    pub fn begin(config: &TraceConfig, headers: &mut HeaderMap, trusted: bool) -> Self {
        let incoming = parse_traceparent(headers);
        let mut span_id = random::<8>();
        if span_id == [0; 8] {
            span_id[7] = 1;
        }
        let ctx = match incoming {
            Some((trace_id, parent, sampled)) => {
                let sampled = if trusted { sampled } else { sampled_by_ratio(&trace_id, config.ratio) };
                Self { trace_id, span_id, parent: Some(parent), sampled, started: SystemTime::now() }
            }
            None => {
                headers.remove("tracestate");
                let mut trace_id = random::<16>();
                if trace_id == [0; 16] {
                    trace_id[15] = 1;
                }
                let sampled = sampled_by_ratio(&trace_id, config.ratio);
                Self { trace_id, span_id, parent: None, sampled, started: SystemTime::now() }
            }
        };
        if let Ok(value) = HeaderValue::from_str(&ctx.traceparent()) {
            headers.insert("traceparent", value);
        }
        ctx
    }

    /// The `traceparent` the service gets: the edge's span as its parent.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{}", hex(&self.trace_id), hex(&self.span_id), if self.sampled { "01" } else { "00" })
    }
}

/// What the edge knows of a finished request, for its span.
#[derive(Debug)]
pub struct Finished<'a> {
    pub method: &'a Method,
    /// The route's path (low cardinality), when one matched.
    pub route: Option<&'a str>,
    pub path: &'a str,
    pub status: u16,
    pub client: IpAddr,
    pub https: bool,
    pub version: hyper::Version,
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(value) }), ..KeyValue::default() }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The span of a finished request, as OTLP carries it (HTTP semantic
/// conventions: a 5xx is an error of the server's).
pub fn span(ctx: &Context, done: &Finished<'_>) -> Span {
    let text = |s: &str| any_value::Value::StringValue(s.to_owned());
    let mut attributes = vec![
        attribute("http.request.method", text(done.method.as_str())),
        attribute("url.path", text(truncated(done.path, MAX_PATH))),
        attribute("url.scheme", text(if done.https { "https" } else { "http" })),
        attribute("http.response.status_code", any_value::Value::IntValue(i64::from(done.status))),
        attribute("client.address", text(&done.client.to_string())),
        attribute(
            "network.protocol.version",
            text(match done.version {
                hyper::Version::HTTP_10 => "1.0",
                hyper::Version::HTTP_2 => "2",
                _ => "1.1",
            }),
        ),
    ];
    if let Some(route) = done.route {
        attributes.push(attribute("http.route", text(route)));
    }
    let name = match done.route {
        Some(route) => format!("{} {route}", done.method),
        None => done.method.to_string(),
    };
    let error = done.status >= 500;
    Span {
        trace_id: ctx.trace_id.to_vec(),
        span_id: ctx.span_id.to_vec(),
        parent_span_id: ctx.parent.map(|p| p.to_vec()).unwrap_or_default(),
        flags: 0x100 | u32::from(ctx.sampled),
        name,
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: nanos(ctx.started),
        end_time_unix_nano: nanos(SystemTime::now()).max(nanos(ctx.started)),
        attributes,
        status: error.then(|| Status { message: String::new(), code: status::StatusCode::Error as i32 }),
        ..Span::default()
    }
}

/// The longest `url.path` a span keeps: a queue of spans must stay small
/// whatever paths clients send (the edge reads heads up to 64 KiB).
pub const MAX_PATH: usize = 1024;

/// `text` cut to at most `max` bytes on a character boundary.
fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Counters the edge's metrics show.
#[derive(Debug, Default)]
pub struct Counters {
    pub exported: AtomicU64,
    pub dropped: AtomicU64,
    pub failed_exports: AtomicU64,
}

/// The request body for a batch.
pub fn encode(config: &TraceConfig, spans: Vec<Span>) -> Vec<u8> {
    let resource = Resource {
        attributes: config
            .resource
            .iter()
            .map(|(k, v)| attribute(k, any_value::Value::StringValue(v.clone())))
            .collect(),
        ..Resource::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "berth-edge".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let message = request.encode_to_vec();
    if !config.grpc {
        return message;
    }
    // gRPC's length-prefixed message: uncompressed, 4-byte big-endian length.
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    framed.extend_from_slice(&message);
    framed
}

/// Why one export failed.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Http(#[from] hyper::Error),
    #[error("the collector answered {0}")]
    Status(String),
}

/// A client TLS configuration trusting the system's roots, offering
/// `alpn` (h2 for gRPC).
fn tls_config(alpn: &[u8]) -> Result<std::sync::Arc<rustls::ClientConfig>, ExportError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ExportError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(std::sync::Arc::new(config))
}

/// Any byte stream an export can go over.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

async fn connect(config: &TraceConfig) -> Result<Box<dyn Stream>, ExportError> {
    let host = config.collector.host().unwrap_or_default().trim_matches(['[', ']']).to_owned();
    let port = config.collector.port_u16().unwrap_or(4317);
    let stream = TcpStream::connect((host.as_str(), port)).await.map_err(ExportError::Connect)?;
    let _ = stream.set_nodelay(true);
    if config.collector.scheme_str() != Some("https") {
        return Ok(Box::new(stream));
    }
    let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| ExportError::Tls(e.to_string()))?;
    let alpn: &[u8] = if config.grpc { b"h2" } else { b"http/1.1" };
    let tls = tokio_rustls::TlsConnector::from(tls_config(alpn)?)
        .connect(name, stream)
        .await
        .map_err(|e| ExportError::Tls(e.to_string()))?;
    Ok(Box::new(tls))
}

async fn send(config: &TraceConfig, body: Vec<u8>) -> Result<(), ExportError> {
    let authority = config.collector.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let io = TokioIo::new(connect(config).await?);
    let built = |uri: Uri| {
        let builder = Request::post(uri).header(hyper::header::HOST, &authority);
        let builder = if config.grpc {
            builder.header("content-type", "application/grpc").header("te", "trailers")
        } else {
            builder.header("content-type", "application/x-protobuf")
        };
        builder.body(Full::new(Bytes::from(body))).map_err(|e| ExportError::Status(format!("bad request: {e}")))
    };
    let response = if config.grpc {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        sender.send_request(built(config.collector.clone())?).await?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        let path = config.collector.path_and_query().map_or("/v1/traces", |p| p.as_str());
        sender.send_request(built(Uri::try_from(path).map_err(|e| ExportError::Status(e.to_string()))?)?).await?
    };
    let status = response.status();
    let header_status = response.headers().get("grpc-status").cloned();
    let collected = response.into_body().collect().await?;
    let trailer_status = collected.trailers().and_then(|t| t.get("grpc-status").cloned());
    if !status.is_success() {
        return Err(ExportError::Status(status.to_string()));
    }
    if config.grpc {
        let code = trailer_status.or(header_status);
        if code.as_ref().is_none_or(|c| c != "0") {
            return Err(ExportError::Status(format!(
                "grpc-status {}",
                code.and_then(|c| c.to_str().ok().map(str::to_owned)).unwrap_or_else(|| "missing".to_owned())
            )));
        }
    }
    Ok(())
}

/// Sends one batch, counting what it sent or lost.
async fn flush(config: &TraceConfig, spans: Vec<Span>, counters: &Counters) {
    let n = spans.len() as u64;
    let body = encode(config, spans);
    match tokio::time::timeout(EXPORT_TIMEOUT, send(config, body)).await {
        Ok(Ok(())) => {
            counters.exported.fetch_add(n, Ordering::Relaxed);
        }
        Ok(Err(_)) | Err(_) => {
            // Not retried: the next batch is already waiting, and a
            // collector that is down must not grow the edge's memory.
            counters.failed_exports.fetch_add(1, Ordering::Relaxed);
            counters.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// The exporter task: batches what the queue holds and sends it; when the
/// edge stops, sends what is queued once more and ends.
pub async fn export(
    config: TraceConfig,
    mut queue: mpsc::Receiver<Span>,
    counters: std::sync::Arc<Counters>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let deadline = tokio::time::sleep(FLUSH);
        tokio::pin!(deadline);
        let mut last = false;
        while batch.len() < BATCH {
            tokio::select! {
                next = queue.recv() => match next {
                    Some(span) => batch.push(span),
                    None => { last = true; break; }
                },
                () = &mut deadline => break,
                _ = stop.changed() => {
                    while let Ok(span) = queue.try_recv() {
                        batch.push(span);
                    }
                    last = true;
                    break;
                }
            }
        }
        for chunk in std::mem::take(&mut batch).chunks(BATCH) {
            flush(&config, chunk.to_vec(), &counters).await;
        }
        if last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("traceparent", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn traceparent_is_read_as_w3c_trace_context_says() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let (trace, parent, sampled) = parse_traceparent(&headers(&[good])).unwrap();
        assert_eq!(hex(&trace), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&parent), "00f067aa0ba902b7");
        assert!(sampled);
        assert!(!parse_traceparent(&headers(&["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"])).unwrap().2);
        // A later version: its first four fields, more after a dash.
        assert!(
            parse_traceparent(&headers(&["cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what"])).is_some()
        );
        for bad in [
            "",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        ] {
            assert!(parse_traceparent(&headers(&[bad])).is_none(), "{bad}");
        }
        assert!(parse_traceparent(&headers(&[good, good])).is_none(), "two traceparents");
    }

    #[test]
    fn ratio_sampling_follows_the_trace_id() {
        let mut id = [0u8; 16];
        assert!(sampled_by_ratio(&id, 0.5), "the lowest id is sampled at any ratio above 0");
        assert!(!sampled_by_ratio(&id, 0.0));
        id[8] = 0xff;
        assert!(!sampled_by_ratio(&id, 0.5));
        assert!(sampled_by_ratio(&id, 1.0));
        let kept = (0..10_000).filter(|_| sampled_by_ratio(&random::<16>(), 0.25)).count();
        assert!((2_000..3_000).contains(&kept), "{kept} of 10000 at 25%");
    }

    #[test]
    fn the_service_gets_the_edges_span_as_parent_and_no_orphaned_tracestate() {
        let config = TraceConfig {
            collector: Uri::from_static("http://127.0.0.1:4318/v1/traces"),
            grpc: false,
            ratio: 1.0,
            resource: vec![],
        };
        let mut h = headers(&["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"]);
        h.insert("tracestate", HeaderValue::from_static("vendor=x"));
        let ctx = Context::begin(&config, &mut h.clone(), false);
        assert!(ctx.sampled, "an untrusted client's decision is the spec's ratio's (100%)");
        let ctx = Context::begin(&config, &mut h, true);
        assert_eq!(ctx.parent.map(|p| hex(&p)).as_deref(), Some("00f067aa0ba902b7"));
        assert!(!ctx.sampled, "a trusted proxy's decision is kept");
        assert_eq!(h["traceparent"], format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-00", hex(&ctx.span_id)));
        assert_eq!(h["tracestate"], "vendor=x");
        let mut forged = headers(&["00-zz-00f067aa0ba902b7-01"]);
        forged.insert("tracestate", HeaderValue::from_static("vendor=x"));
        let ctx = Context::begin(&config, &mut forged, true);
        assert!(ctx.parent.is_none() && ctx.sampled);
        assert!(!forged.contains_key("tracestate"));
        assert_eq!(parse_traceparent(&forged).map(|t| t.0), Some(ctx.trace_id));
    }

    #[test]
    fn long_paths_are_cut_on_a_character_boundary() {
        assert_eq!(truncated("/short", MAX_PATH), "/short");
        let long = format!("/{}", "é".repeat(MAX_PATH));
        let cut = truncated(&long, MAX_PATH);
        assert!(cut.len() <= MAX_PATH && cut.len() >= MAX_PATH - 1, "{}", cut.len());
    }

    #[test]
    fn endpoints_become_the_collectors_address_and_path() {
        let config = |endpoint: &str, protocol| {
            TraceConfig::new(
                &berth_spec::Tracing { endpoint: endpoint.to_owned(), protocol, sample: None },
                "shop",
                None,
            )
        };
        let http = config("http://otel:4318", berth_spec::OtlpProtocol::HttpProtobuf).unwrap();
        assert_eq!(http.collector, "http://otel:4318/v1/traces");
        let base = config("http://otel/otlp/", berth_spec::OtlpProtocol::HttpProtobuf).unwrap();
        assert_eq!(base.collector, "http://otel:4318/otlp/v1/traces");
        let grpc = config("http://[::1]", berth_spec::OtlpProtocol::Grpc).unwrap();
        assert_eq!(grpc.collector, "http://[::1]:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export");
        let tls = config("https://api.honeycomb.io", berth_spec::OtlpProtocol::HttpProtobuf).unwrap();
        assert_eq!(tls.collector, "https://api.honeycomb.io:4318/v1/traces");
        let refused = config("otel:4317", berth_spec::OtlpProtocol::Grpc).unwrap_err();
        assert!(refused.to_string().contains("http://"), "{refused}");
    }
}
