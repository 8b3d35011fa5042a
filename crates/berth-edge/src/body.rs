//! Bodies the edge sends: a service's answer as it streams in, the same
//! gzip-compressed on the fly, or a short answer of the edge's own.

use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body_util::Full;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};

/// Why a body the edge was sending broke off.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Upstream(#[from] hyper::Error),
    /// The service sent nothing more for the route's timeout, in the
    /// middle of a body (nginx's `proxy_read_timeout` between reads).
    #[error("the service sent no more of its answer for {0:?}")]
    Stalled(std::time::Duration),
}

/// A service's body with a limit on the wait for each next piece: a
/// service that stops halfway must not hold the client's connection, and
/// one of the edge's, forever.
#[derive(Debug)]
pub struct Timed {
    inner: Incoming,
    idle: std::time::Duration,
    /// Armed the first time the service makes the edge wait: most bodies
    /// arrive whole and never need a timer.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Timed {
    pub fn new(inner: Incoming, idle: std::time::Duration) -> Self {
        Self { inner, idle, deadline: None }
    }

    pub fn inner(&self) -> &Incoming {
        &self.inner
    }

    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(deadline) = self.deadline.as_mut() {
                    deadline.as_mut().reset(tokio::time::Instant::now() + self.idle);
                }
                Poll::Ready(frame.map(|f| f.map_err(BodyError::from)))
            }
            Poll::Pending => {
                let idle = self.idle;
                let deadline = self.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Stalled(idle)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

#[derive(Debug)]
pub enum Body {
    Upstream(Timed),
    Gzip(Box<Gzip>),
    Local(Full<Bytes>),
}

impl Body {
    pub fn text(text: String) -> Self {
        Self::Local(Full::new(Bytes::from(text)))
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Self::Upstream(b) => b.poll_frame(cx),
            Self::Gzip(g) => Pin::new(g.as_mut()).poll_frame(cx),
            Self::Local(b) => Pin::new(b).poll_frame(cx).map_err(|never| match never {}),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Upstream(b) => b.inner.is_end_stream(),
            Self::Gzip(g) => g.done,
            Self::Local(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Upstream(b) => b.inner.size_hint(),
            Self::Gzip(_) => SizeHint::default(),
            Self::Local(b) => b.size_hint(),
        }
    }
}

/// Compresses a service's body as it streams. Output leaves once deflate
/// has a block ready, like nginx's gzip filter; the tail on end of stream.
#[derive(Debug)]
pub struct Gzip {
    inner: Timed,
    encoder: Option<GzEncoder<Vec<u8>>>,
    done: bool,
}

/// Below this, compression costs more than it saves (nginx's default is 20
/// bytes; 1 KiB matches what berth renders for nginx).
const MIN_LENGTH: u64 = 1024;

fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    // Server-sent events must not wait for a deflate block.
    if essence == "text/event-stream" {
        return false;
    }
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/problem+json"
                | "application/manifest+json"
                | "image/svg+xml"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

/// The client takes gzip: listed with a q-value above zero.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
        },
    )
}

/// Whether this answer should be compressed, from its status and headers.
pub fn should_compress(status: hyper::StatusCode, headers: &HeaderMap, body: &Incoming) -> bool {
    if !status.is_success() || status == hyper::StatusCode::NO_CONTENT || status == hyper::StatusCode::PARTIAL_CONTENT {
        return false;
    }
    if headers.contains_key(header::CONTENT_ENCODING) || headers.contains_key(header::CONTENT_RANGE) {
        return false;
    }
    let no_transform = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("no-transform"));
    if no_transform {
        return false;
    }
    let typed = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(compressible);
    let big_enough = body.size_hint().exact().is_none_or(|n| n >= MIN_LENGTH);
    typed && big_enough && !body.is_end_stream()
}

/// Rewrites the headers for a compressed body and wraps it.
pub fn compress(headers: &mut HeaderMap, inner: Timed) -> Body {
    headers.remove(header::CONTENT_LENGTH);
    // A strong validator no longer matches the transformed bytes.
    if let Some(etag) = headers.get(header::ETAG).and_then(|v| v.to_str().ok())
        && !etag.starts_with("W/")
        && let Ok(weak) = HeaderValue::from_str(&format!("W/{etag}"))
    {
        headers.insert(header::ETAG, weak);
    }
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    Body::Gzip(Box::new(Gzip {
        inner,
        encoder: Some(GzEncoder::new(Vec::with_capacity(8 * 1024), Compression::new(5))),
        done: false,
    }))
}

impl Gzip {
    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match ready!(this.inner.poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else { continue };
                    let Some(encoder) = this.encoder.as_mut() else { continue };
                    // Writing into a Vec cannot fail.
                    let _ = encoder.write_all(&data);
                    let ready = std::mem::take(encoder.get_mut());
                    if !ready.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(ready)))));
                    }
                }
                Some(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.done = true;
                    let tail = this.encoder.take().and_then(|e| e.finish().ok()).unwrap_or_default();
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(tail)))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn accept_encoding_honours_q_values() {
        assert!(accepts_gzip(&headers(&[("accept-encoding", "gzip, deflate, br")])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "br;q=1.0, GZIP;q=0.5")])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "*")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "br")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn only_text_like_types_are_compressed() {
        assert!(compressible("text/html; charset=utf-8"));
        assert!(compressible("application/json"));
        assert!(compressible("application/vnd.api+json"));
        assert!(!compressible("text/event-stream"));
        assert!(!compressible("image/png"));
        assert!(!compressible("application/octet-stream"));
    }
}
