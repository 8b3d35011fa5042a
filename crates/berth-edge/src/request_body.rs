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
pub struct Watch(Arc<AtomicU8>);

impl Watch {
    pub fn outcome(&self) -> Outcome {
        match self.0.load(Ordering::Relaxed) {
            1 => Outcome::TooLarge,
            2 => Outcome::Malformed,
            _ => Outcome::Fine,
        }
    }

    fn set(&self, outcome: Outcome) {
        let code = match outcome {
            Outcome::Fine => 0,
            Outcome::TooLarge => 1,
            Outcome::Malformed => 2,
        };
        self.0.store(code, Ordering::Relaxed);
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

#[derive(Debug)]
pub struct ClientBody {
    inner: Option<Incoming>,
    limit: u64,
    seen: u64,
    watch: Watch,
}

impl ClientBody {
    /// `None` for a request without a body.
    pub fn new(inner: Option<Incoming>, limit: u64) -> (Self, Watch) {
        let watch = Watch::default();
        (Self { inner, limit, seen: 0, watch: watch.clone() }, watch)
    }
}

impl HttpBody for ClientBody {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if this.seen > this.limit {
                        this.watch.set(Outcome::TooLarge);
                        this.inner = None;
                        return Poll::Ready(Some(Err(ClientBodyError::TooLarge(this.limit))));
                    }
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
