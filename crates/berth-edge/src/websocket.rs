//! WebSocket tunnels through the edge. Bytes pass as they are, but the
//! service-to-client direction is followed frame by frame, so that when a
//! deploy retires the service (or the edge stops) the client gets a Close
//! frame with status 1001 ("going away") at a frame boundary, as RFC 6455
//! asks of a server that leaves, instead of a bare TCP close.

use std::time::Duration;

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// A Close frame from a server (unmasked) with status 1001.
pub const GOING_AWAY: [u8; 4] = [0x88, 0x02, 0x03, 0xE9];

/// How long a close waits for the frame in progress to finish.
const FRAME_GRACE: Duration = Duration::from_secs(1);

/// Where the service-to-client stream is between frames.
#[derive(Debug, Default)]
pub struct Frames {
    /// Bytes of the current frame's header seen so far.
    header: Vec<u8>,
    /// Payload bytes left in the current frame.
    payload_left: u64,
    /// The stream broke the framing rules: never inject into it.
    lost: bool,
}

impl Frames {
    /// Whether the next byte starts a frame.
    pub fn at_boundary(&self) -> bool {
        !self.lost && self.header.is_empty() && self.payload_left == 0
    }

    /// Follows `bytes` of the stream.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.lost {
            if self.payload_left > 0 {
                let take = usize::try_from(self.payload_left).unwrap_or(usize::MAX).min(bytes.len());
                self.payload_left -= take as u64;
                bytes = &bytes[take..];
                continue;
            }
            self.header.push(bytes[0]);
            bytes = &bytes[1..];
            if let Some((len, header_len)) = Self::parse(&self.header) {
                debug_assert_eq!(header_len, self.header.len());
                self.header.clear();
                self.payload_left = len;
            } else if self.header.len() > 14 {
                self.lost = true;
            }
        }
    }

    /// (payload length, header length) once `header` is a whole header.
    fn parse(header: &[u8]) -> Option<(u64, usize)> {
        let second = *header.get(1)?;
        let masked = second & 0x80 != 0;
        let (len, at) = match second & 0x7F {
            126 => (u64::from(u16::from_be_bytes([*header.get(2)?, *header.get(3)?])), 4),
            127 => {
                let bytes: [u8; 8] = header.get(2..10)?.try_into().ok()?;
                (u64::from_be_bytes(bytes), 10)
            }
            n => (u64::from(n), 2),
        };
        let total = at + if masked { 4 } else { 0 };
        (header.len() == total).then_some((len, total))
    }
}

/// Copies both ways until either side closes, or until `closing` turns
/// true (the service is retired or the edge stops): then the client gets
/// [`GOING_AWAY`] at the next frame boundary and both sides are closed.
pub async fn tunnel(client: Upgraded, service: Upgraded, mut closing: watch::Receiver<bool>) {
    let (mut client_read, mut client_write) = tokio::io::split(TokioIo::new(client));
    let (mut service_read, mut service_write) = tokio::io::split(TokioIo::new(service));
    let mut frames = Frames::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut close_by: Option<tokio::time::Instant> = None;
    {
        let upstream = tokio::io::copy(&mut client_read, &mut service_write);
        tokio::pin!(upstream);
        loop {
            if close_by.is_some() && frames.at_boundary() {
                let _ = client_write.write_all(&GOING_AWAY).await;
                let _ = client_write.flush().await;
                break;
            }
            let deadline = close_by.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400));
            tokio::select! {
                _ = &mut upstream => break,
                changed = closing.changed(), if close_by.is_none() => {
                    if changed.is_err() || *closing.borrow() {
                        close_by = Some(tokio::time::Instant::now() + FRAME_GRACE);
                    }
                }
                () = tokio::time::sleep_until(deadline), if close_by.is_some() => break,
                read = service_read.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        frames.feed(&buf[..n]);
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                },
            }
        }
    }
    let _ = client_write.shutdown().await;
    let _ = service_write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_followed_across_reads() {
        let mut f = Frames::default();
        assert!(f.at_boundary());
        // "hello" text frame, split across three reads.
        let frame = [0x81, 0x05, b'h', b'e', b'l', b'l', b'o'];
        f.feed(&frame[..1]);
        assert!(!f.at_boundary());
        f.feed(&frame[1..4]);
        assert!(!f.at_boundary());
        f.feed(&frame[4..]);
        assert!(f.at_boundary());
        // 16-bit and 64-bit lengths, and a masked header.
        let mut long = vec![0x82, 126, 0x01, 0x00];
        long.extend(vec![0u8; 256]);
        f.feed(&long);
        assert!(f.at_boundary());
        let mut huge = vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        huge.extend(vec![0u8; 65_536]);
        f.feed(&huge[..30_000]);
        assert!(!f.at_boundary());
        f.feed(&huge[30_000..]);
        assert!(f.at_boundary());
        f.feed(&[0x81, 0x82, 1, 2, 3, 4, b'o', b'k']);
        assert!(f.at_boundary());
    }
}
