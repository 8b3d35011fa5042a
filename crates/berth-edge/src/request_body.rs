//! The client's request body on its way to a service: counted against the
//! route's limit as it streams, and watched so that when forwarding fails
//! the edge knows whose fault it was. A body over the limit is the
//! client's (413), a malformed chunked body is the client's (400), and
//! neither is an upstream error that would feed the error-rate alert.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};

/// What happened to the client's body, shared with the request handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still streaming, or finished cleanly.
    Fine,
    /// The client sent more than the route's limit.
    TooLarge,
    /// The client's body broke off or was malformed.
    Malformed,
}

#[derive(Debug, Default, Clone)]
pub struct Watch(Arc<WatchState>);

#[derive(Debug, Default)]
pub struct WatchState {
    /// The outcome, and [`ENDED`].
    state: AtomicU8,
    /// Bytes of the body passed on so far.
    sent: std::sync::atomic::AtomicU64,
}

/// The bit of a [`Watch`] that says the body was sent to its end.
const ENDED: u8 = 0x80;

impl Watch {
    pub fn outcome(&self) -> Outcome {
        match self.0.state.load(Ordering::Relaxed) & !ENDED {
            1 => Outcome::TooLarge,
            2 => Outcome::Malformed,
            _ => Outcome::Fine,
        }
    }

    /// The whole body went out (a request without one, from the start).
    pub fn ended(&self) -> bool {
        self.0.state.load(Ordering::Acquire) & ENDED != 0
    }

    fn set(&self, outcome: Outcome) {
        let code = match outcome {
            Outcome::Fine => 0,
            Outcome::TooLarge => 1,
            Outcome::Malformed => 2,
        };
        self.0.state.fetch_or(code, Ordering::Relaxed);
    }

    /// Bytes of the body passed on so far: an upload still moving is not
    /// a service that fails to answer.
    pub fn sent(&self) -> u64 {
        self.0.sent.load(Ordering::Relaxed)
    }

    fn end(&self) {
        self.0.state.fetch_or(ENDED, Ordering::Release);
    }
}

/// The error a [`ClientBody`] ends with; the client caused it.
#[derive(Debug, thiserror::Error)]
pub enum ClientBodyError {
    #[error("the request body is over the route's limit of {0} bytes")]
    TooLarge(u64),
    #[error("the request body is malformed: {0}")]
    Malformed(#[source] hyper::Error),
}

/// How much of a refused HTTP/2 body the edge still reads, and for how
/// long, so the stream ends cleanly and the client sees the 413 instead of
/// a stream reset (curl's error 92). Past either bound the stream is reset.
pub const DRAIN_BYTES: u64 = 16 << 20;
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and discards what is left of a refused body, off the request path.
pub fn drain_later(body: Incoming) {
    use http_body_util::BodyExt as _;
    tokio::spawn(async move {
        let mut body = body;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            let mut read = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                read = read.saturating_add(frame.data_ref().map_or(0, |d| d.len() as u64));
                if read > DRAIN_BYTES {
                    break;
                }
            }
        })
        .await;
    });
}

#[derive(Debug)]
pub struct ClientBody {
    inner: Option<Incoming>,
    limit: u64,
    seen: u64,
    watch: Watch,
    /// HTTP/2: read the rest of a body over the limit (see [`drain_later`]).
    drain: bool,
}

impl ClientBody {
    /// `None` for a request without a body.
    pub fn new(inner: Option<Incoming>, limit: u64, drain: bool) -> (Self, Watch) {
        let watch = Watch::default();
        if inner.as_ref().is_none_or(HttpBody::is_end_stream) {
            watch.end();
        }
        (Self { inner, limit, seen: 0, watch: watch.clone(), drain }, watch)
    }

    pub fn watch(&self) -> Watch {
        self.watch.clone()
    }
}

impl HttpBody for ClientBody {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(&mut *inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    this.watch.0.sent.store(this.seen, Ordering::Relaxed);
                    if this.seen > this.limit {
                        this.watch.set(Outcome::TooLarge);
                        if let Some(rest) = this.inner.take().filter(|_| this.drain) {
                            drain_later(rest);
                        }
                        return Poll::Ready(Some(Err(ClientBodyError::TooLarge(this.limit))));
                    }
                }
                // hyper stops polling a body that says it has ended.
                if HttpBody::is_end_stream(&*inner) {
                    this.watch.end();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.watch.set(Outcome::Malformed);
                this.inner = None;
                Poll::Ready(Some(Err(ClientBodyError::Malformed(error))))
            }
            Poll::Ready(None) => {
                this.inner = None;
                this.watch.end();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}
