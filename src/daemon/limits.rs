//! What one daemon gives to the connections, streams and messages of others, so that a peer or
//! client that opens thousands of connections or streams, sends huge messages or never reads
//! cannot exhaust it (README, "Security").
//!
//! | resource | bound | over it |
//! |---|---|---|
//! | open connections | [`MAX_CONNECTIONS`] (`--max-connections`) | a new connection is closed at once (a `connections_full` warning, at most one per second) |
//! | TLS handshake | [`crate::tls::HANDSHAKE_TIMEOUT`] | the connection is dropped |
//! | HTTP/2 streams per connection | [`MAX_STREAMS_PER_CONNECTION`] | the client must wait for one to end |
//! | one gRPC message | [`MAX_MESSAGE_BYTES`] | the stream ends with `OUT_OF_RANGE` |
//! | peer links per sender | one: a newer link of the same node ends the older | |
//! | a stream's first message (Hello, Acquire) | [`FIRST_MESSAGE_WITHIN`] | the stream ends with `DEADLINE_EXCEEDED` |
//! | lock sessions at once | [`MAX_SESSIONS`] | `RESOURCE_EXHAUSTED` |
//!
//! Queued bytes are bounded by construction: a link's acknowledgements are one value that each
//! new one replaces, a session's answers are at most three messages, and HTTP/2 flow control
//! stops a sender whose receiver does not read.

use crate::daemon::node_log::NodeLog;
use crate::node_event::NodeEvent;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::Connected;

/// Connections open at once, by default: far more than a cluster and its clients need (each
/// peer keeps one, each client one), few enough that their buffers stay a few MiB.
pub const MAX_CONNECTIONS: usize = 512;
/// Concurrent HTTP/2 streams on one connection: a peer uses one, a client a few sessions.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 128;
/// The largest gRPC message accepted. The largest legitimate ones are a `NodeStatus` or a
/// `ListLocksReply` of a busy node (kilobytes); protocol frames are under 200 bytes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The largest block of HTTP/2 headers accepted (gRPC's are a few hundred bytes).
pub const MAX_HEADER_BYTES: u32 = 16 * 1024;
/// How long a new stream may take to send its first message (a Hello, an Acquire).
pub const FIRST_MESSAGE_WITHIN: Duration = Duration::from_secs(5);
/// Lock sessions (held or waiting) one daemon serves at once.
pub const MAX_SESSIONS: usize = 4096;

/// A connection that holds one of the daemon's connection slots for as long as it is open.
pub struct Limited<IO> {
    io: IO,
    _slot: OwnedSemaphorePermit,
}

/// Lets through at most `max` connections of `incoming` at once; a connection beyond that is
/// closed as soon as it is accepted, with a warning in the node log `log` (at most one a
/// second).
pub fn limit_connections<I, IO, IE>(
    incoming: I,
    max: usize,
    log: NodeLog,
) -> impl Stream<Item = Result<Limited<IO>, IE>>
where
    I: Stream<Item = Result<IO, IE>>,
{
    let slots = Arc::new(Semaphore::new(max));
    let mut last_warning: Option<Instant> = None;
    incoming.filter_map(move |conn| match conn {
        Err(e) => Some(Err(e)),
        Ok(io) => match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(Ok(Limited { io, _slot: slot })),
            Err(_) => {
                if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    last_warning = Some(Instant::now());
                    log.log(&NodeEvent::ConnectionsFull { max: max as u64 });
                }
                None // dropped: closed
            }
        },
    })
}

impl<IO: Connected> Connected for Limited<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Limited<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Limited<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
