//! The simulated network: byte streams between the daemons of one process, in tokio's
//! (paused) time, that the harness delays, holds, partitions and cuts.
//!
//! Each connection is two in-memory pipes joined by two relay tasks, one per direction. A relay
//! delivers what it reads in order after a seeded delay, so a connection keeps TCP's order and
//! only different connections reorder. A relay holds its bytes while either end is paused or
//! the two ends are on different sides of a partition (as a stopped process or a cut cable
//! leaves them in the kernel's buffers), and a connection that is cut (or whose node is
//! killed) ends at both ends, as a reset does. A connect to a node that is down, or across a
//! partition, is refused. This module knows nothing of gRPC or of the protocol.

use maekawa_core::id::NodeId;
use maekawa_core::rng::SplitMix64;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// Bytes a pipe buffers before its writer waits.
const PIPE_BYTES: usize = 64 * 1024;

/// One end of a simulated connection, as tonic's server and client see it.
#[derive(Debug)]
pub struct SimStream(DuplexStream);

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for SimStream {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// Who opened a connection: a node's link, or a client (a lock session or `ctl`) that runs
/// beside the node it talks to, so that no partition separates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Host {
    /// A node's outgoing link.
    Node(NodeId),
    /// A client of the node it connects to.
    Client,
}

/// The stream of connections a node's server accepts.
pub type Incoming = tokio_stream::wrappers::UnboundedReceiverStream<Result<SimStream, io::Error>>;

/// Counts of what the network did, for the run's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Chunks of bytes delivered.
    pub deliveries: u64,
    /// Connections opened.
    pub connections: u64,
    /// Connects refused (node down or across a partition).
    pub refused: u64,
    /// Connections cut.
    pub cut: u64,
}

struct Conn {
    from: Host,
    to: NodeId,
    relays: [AbortHandle; 2],
    /// The node whose death ended it, and when: what it wrote before still arrives.
    ended: Option<(NodeId, Instant)>,
}

/// What a relay does with a chunk (or, with none, with itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Deliver,
    Hold,
    Drop,
}

struct State {
    listeners: BTreeMap<String, (NodeId, mpsc::UnboundedSender<Result<SimStream, io::Error>>)>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    /// Paused nodes, with when they stopped.
    paused: BTreeMap<NodeId, Instant>,
    /// One side of the partition; the other is every other node. Empty: none.
    side: BTreeSet<NodeId>,
    /// Delays of deliveries, in microseconds: each link (ordered pair of ends) has its own
    /// range, `d..=2d` for a `d` drawn once from `lo..=hi`.
    delay_us: (u64, u64),
    seed: u64,
    stats: NetStats,
}

impl State {
    /// The delay range of the link from `src` to `dst` (`None`: a client), the same for
    /// every connection of that link.
    fn link_delay(&self, src: Option<NodeId>, dst: Option<NodeId>) -> (u64, u64) {
        let end = |n: Option<NodeId>| n.map_or(0, |n| u64::from(n.0) + 1);
        let mut rng = SplitMix64::new(self.seed ^ (end(src) << 32) ^ (end(dst) << 48));
        let (lo, hi) = self.delay_us;
        let d = rng.between(lo, hi);
        (d, 2 * d)
    }

    /// What happens to a chunk of connection `conn` from `src` to `dst` written at `written`
    /// (`None`: no chunk, just whether the relay goes on). A connection ended by a node's
    /// death delivers what that node wrote before it died, and nothing else.
    fn fate(
        &self,
        conn: u64,
        src: Option<NodeId>,
        dst: Option<NodeId>,
        written: Option<Instant>,
    ) -> Fate {
        match self.conns.get(&conn).map(|c| c.ended) {
            None => return Fate::Drop,
            Some(Some((dead, at))) => {
                let before = written.is_some_and(|w| w <= at);
                if Some(dead) == dst || !before {
                    return Fate::Drop;
                }
            }
            Some(None) => {}
        }
        match written {
            Some(w) if self.blocked(src, dst, w) => Fate::Hold,
            _ => Fate::Deliver,
        }
    }

    /// Whether a chunk going from `src` to `dst`, written at `written`, must wait: `dst` is
    /// paused, the two are partitioned, or `src` was paused when it wrote (a stopped process
    /// writes nothing; what it wrote before it stopped still leaves).
    fn blocked(&self, src: Option<NodeId>, dst: Option<NodeId>, written: Instant) -> bool {
        let paused = |n: Option<NodeId>| n.and_then(|n| self.paused.get(&n)).copied();
        let split = match (src, dst) {
            (Some(a), Some(b)) => self.side.contains(&a) != self.side.contains(&b),
            _ => false,
        };
        split || paused(dst).is_some() || paused(src).is_some_and(|since| written > since)
    }
}

/// The network of one simulated cluster. Cheap to clone; every clone is the same network.
#[derive(Clone)]
pub struct Net {
    state: Arc<Mutex<State>>,
    /// Bumped whenever pauses or the partition change, so held relays look again.
    changed: watch::Sender<u64>,
}

impl Net {
    /// A network whose deliveries take `delay_us` (microseconds, `lo..=hi`), its draws
    /// seeded by `seed`.
    pub fn new(seed: u64, delay_us: (u64, u64)) -> Net {
        Net {
            state: Arc::new(Mutex::new(State {
                listeners: BTreeMap::new(),
                conns: BTreeMap::new(),
                next_conn: 0,
                paused: BTreeMap::new(),
                side: BTreeSet::new(),
                delay_us,
                seed,
                stats: NetStats::default(),
            })),
            changed: watch::channel(0).0,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Node `node` listens on `addr`: the connections made to `addr` from now on.
    pub fn listen(&self, node: NodeId, addr: &str) -> Incoming {
        let (tx, rx) = mpsc::unbounded_channel();
        self.state().listeners.insert(addr.to_string(), (node, tx));
        tokio_stream::wrappers::UnboundedReceiverStream::new(rx)
    }

    /// Node `node` is gone (killed): its listener closes and every connection it has ends,
    /// once what it wrote before is delivered (what was sent to it is lost).
    pub fn down(&self, node: NodeId) {
        let mut st = self.state();
        st.listeners.retain(|_, (n, _)| *n != node);
        st.paused.remove(&node);
        let now = Instant::now();
        for c in st.conns.values_mut() {
            if c.ended.is_none() && (c.to == node || c.from == Host::Node(node)) {
                c.ended = Some((node, now));
            }
        }
        drop(st);
        self.bump();
    }

    /// Cuts every connection between nodes `a` and `b` (both directions): both ends see it
    /// end, as after a reset. Returns how many were cut.
    pub fn cut(&self, a: NodeId, b: NodeId) -> usize {
        let mut st = self.state();
        let ids: Vec<u64> = st
            .conns
            .iter()
            .filter(|(_, c)| {
                (c.from == Host::Node(a) && c.to == b) || (c.from == Host::Node(b) && c.to == a)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            if let Some(c) = st.conns.remove(id) {
                c.relays.iter().for_each(AbortHandle::abort);
            }
        }
        st.stats.cut += ids.len() as u64;
        ids.len()
    }

    /// Holds every byte to and from `node` (a stopped process) until [`Net::resume`].
    pub fn pause(&self, node: NodeId) {
        self.state().paused.insert(node, Instant::now());
        self.bump();
    }

    /// Delivers what was held for `node` again.
    pub fn resume(&self, node: NodeId) {
        self.state().paused.remove(&node);
        self.bump();
    }

    /// Splits the nodes into `side` and the rest: bytes between them are held, connects
    /// refused, until [`Net::heal`].
    pub fn partition(&self, side: BTreeSet<NodeId>) {
        self.state().side = side;
        self.bump();
    }

    /// Ends the partition.
    pub fn heal(&self) {
        self.state().side.clear();
        self.bump();
    }

    /// What the network did so far.
    pub fn stats(&self) -> NetStats {
        self.state().stats
    }

    fn bump(&self) {
        self.changed.send_modify(|g| *g += 1);
    }

    /// Opens a connection from `from` to the node listening on `addr`.
    pub fn connect(&self, from: Host, addr: &str) -> io::Result<SimStream> {
        let mut st = self.state();
        let Some((to, listener)) = st.listeners.get(addr).map(|(n, l)| (*n, l.clone())) else {
            st.stats.refused += 1;
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{addr}: connection refused (node down)"),
            ));
        };
        if let Host::Node(n) = from {
            if st.side.contains(&n) != st.side.contains(&to) {
                st.stats.refused += 1;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{addr}: unreachable (partitioned)"),
                ));
            }
        }
        let (client_app, client_net) = tokio::io::duplex(PIPE_BYTES);
        let (server_app, server_net) = tokio::io::duplex(PIPE_BYTES);
        let (client_rd, client_wr) = tokio::io::split(client_net);
        let (server_rd, server_wr) = tokio::io::split(server_net);
        let id = st.next_conn;
        st.next_conn += 1;
        st.stats.connections += 1;
        let seed = st.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let from_node = match from {
            Host::Node(n) => Some(n),
            Host::Client => None,
        };
        let up = self
            .clone()
            .relay(id, client_rd, server_wr, (from_node, Some(to)), seed);
        let down = self
            .clone()
            .relay(id, server_rd, client_wr, (Some(to), from_node), !seed);
        let (up, down) = (tokio::spawn(up), tokio::spawn(down));
        let (up, down) = (up.abort_handle(), down.abort_handle());
        st.conns.insert(
            id,
            Conn {
                from,
                to,
                relays: [up, down],
                ended: None,
            },
        );
        if listener.send(Ok(SimStream(server_app))).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "listener closed",
            ));
        }
        Ok(SimStream(client_app))
    }

    /// Moves bytes one way along connection `conn`: reads whatever the writer wrote as soon as
    /// it is written (so each chunk is stamped with when it left), and delivers each chunk
    /// after its delay, in order, held while the ends are blocked. The end of one side's
    /// writes ends the other side's reads.
    async fn relay(
        self,
        conn: u64,
        mut from: tokio::io::ReadHalf<DuplexStream>,
        mut to: tokio::io::WriteHalf<DuplexStream>,
        (src, dst): (Option<NodeId>, Option<NodeId>),
        seed: u64,
    ) {
        let mut rng = SplitMix64::new(seed);
        let (lo, hi) = self.state().link_delay(src, dst);
        let mut buf = vec![0u8; 16 * 1024];
        let mut changed = self.changed.subscribe();
        // Chunks read and not yet delivered: when written, when due, the bytes.
        let mut queue: VecDeque<(Instant, Instant, Vec<u8>)> = VecDeque::new();
        let mut open = true;
        loop {
            let fate = match queue.front() {
                Some((written, _, _)) => self.state().fate(conn, src, dst, Some(*written)),
                None => self.state().fate(conn, src, dst, None),
            };
            if fate == Fate::Drop || (!open && queue.is_empty()) {
                break;
            }
            let due = queue.front().map(|(_, due, _)| *due);
            tokio::select! {
                biased;
                r = from.read(&mut buf), if open => match r {
                    Ok(0) | Err(_) => open = false,
                    Ok(n) => {
                        let now = Instant::now();
                        let at = now + Duration::from_micros(rng.between(lo, hi));
                        // In order: never before the chunk ahead of it.
                        let at = queue.back().map_or(at, |(_, last, _)| at.max(*last));
                        queue.push_back((now, at, buf[..n].to_vec()));
                    }
                },
                _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() && fate == Fate::Deliver => {
                    if let Some((_, _, bytes)) = queue.pop_front() {
                        if to.write_all(&bytes).await.is_err() {
                            break;
                        }
                        self.state().stats.deliveries += 1;
                    }
                }
                r = changed.changed() => if r.is_err() { return },
            }
        }
        let _ = to.shutdown().await;
    }

    /// Waits while `from`, a node, is paused: a stopped process opens no connection.
    pub async fn until_running(&self, from: Host) {
        let Host::Node(n) = from else { return };
        let mut changed = self.changed.subscribe();
        while self.state().paused.contains_key(&n) {
            if changed.changed().await.is_err() {
                return;
            }
        }
    }
}
