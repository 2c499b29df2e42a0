//! The transport's tests: in-process servers on 127.0.0.1 (OS-assigned ports) and a connector
//! whose connections the test can cut.

use super::*;
use maekawa_core::id::{Incarnation, Lamport, RequestId, Token};
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A TCP stream that fails for good once the shared generation moves past its own: lets a
/// test cut every open connection at a moment of its choosing.
struct Cuttable {
    inner: TcpStream,
    born: u64,
    generation: Arc<AtomicU64>,
}

impl Cuttable {
    fn cut(&self) -> bool {
        self.generation.load(Ordering::SeqCst) != self.born
    }
}

fn broken() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut by the test")
}

impl AsyncRead for Cuttable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.cut() {
            return Poll::Ready(Err(broken()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Cuttable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.cut() {
            return Poll::Ready(Err(broken()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn cuttable_connector(generation: Arc<AtomicU64>) -> Connector {
    Arc::new(move |addr: String| {
        let generation = generation.clone();
        Box::pin(async move {
            let unreachable = |e: tonic::transport::Error| LinkDown::Unreachable(e.to_string());
            let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .map_err(unreachable)?;
            endpoint
                .connect_with_connector(tower::service_fn(move |_uri| {
                    let (addr, generation) = (addr.clone(), generation.clone());
                    async move {
                        let inner = TcpStream::connect(addr).await?;
                        inner.set_nodelay(true)?;
                        let born = generation.load(Ordering::SeqCst);
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(Cuttable {
                            inner,
                            born,
                            generation,
                        }))
                    }
                }))
                .await
                .map_err(unreachable)
        })
    })
}

/// A suspicion timeout no test waits for: no suspicion among the events it checks.
const QUIET: Duration = Duration::from_secs(3600);

/// The transport settings of node `me` (incarnation 1) whose peers at start are `peers`.
fn config(me: u32, peers: &[(u32, &str)]) -> TransportConfig {
    TransportConfig {
        me: NodeId(me),
        incarnation: 1,
        boot: 1,
        awaits_floor: false,
        floor: Arc::default(),
        epoch: Arc::default(),
        listen: String::new(),
        peers: peers
            .iter()
            .map(|(p, addr)| (NodeId(*p), addr.to_string()))
            .collect(),
        liveness: Liveness::new(peers.iter().map(|(p, _)| NodeId(*p)), QUIET),
        gate: crate::tls::Gate::open(),
        log: NodeLog::to_writer(NodeId(me), std::io::sink()),
        drop_resend_on_reconnect: false,
    }
}

fn numbered(i: u64) -> Message {
    Message {
        kind: MsgKind::Request,
        lamport: Lamport(i),
        req: RequestId {
            ts: Lamport(i),
            node: NodeId(0),
            inc: Incarnation(1),
            epoch: maekawa_core::id::Epoch(0),
        },
        holds_grant: false,
        to_inc: Incarnation(0),
        token: Token(i),
        echo: 0,
    }
}

/// A peer is suspected once when its silence reaches the timeout, and hearing from it
/// ends the suspicion with the whole silence; a peer heard in time is never suspected.
#[test]
fn silence_is_suspected_once_and_ended_by_hearing_again() {
    let ms = Duration::from_millis;
    let t0 = Instant::now();
    let live = Liveness::heard_at([NodeId(1), NodeId(2)], ms(1000), t0);
    assert_eq!(live.heartbeat_interval(), ms(250));
    assert_eq!(live.heard(NodeId(2), t0 + ms(600)), None, "not suspected");
    assert!(live.newly_silent(t0 + ms(999)).is_empty());
    assert_eq!(live.newly_silent(t0 + ms(1000)), [(NodeId(1), ms(1000))]);
    assert_eq!(
        live.newly_silent(t0 + ms(1600)),
        [(NodeId(2), ms(1000))],
        "node 1 is not suspected twice"
    );
    assert_eq!(live.heard(NodeId(1), t0 + ms(1700)), Some(ms(1700)));
    assert_eq!(
        live.heard(NodeId(1), t0 + ms(1800)),
        None,
        "no longer suspected"
    );
    assert_eq!(live.heard(NodeId(7), t0 + ms(1800)), None, "not a peer");
    assert!(live.newly_silent(t0 + ms(2799)).is_empty());
    assert_eq!(live.newly_silent(t0 + ms(2800)), [(NodeId(1), ms(1000))]);
}

/// FIFO and exactly-once across broken connections: node 0 streams numbered messages to
/// node 1 while the test cuts the link three times mid-stream (and waits to see the link go
/// down and come back each time); node 1 must see 1..=N, each once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_survive_cut_connections_in_order_exactly_once() {
    const N: u64 = 3_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (deliver, mut delivered) = mpsc::channel(N as usize + 100);
    let receiver = PeerService::new(&config(1, &[(0, "unused")]), deliver);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(receiver.into_server())
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let generation = Arc::new(AtomicU64::new(0));
    let (events, mut link_events) = mpsc::channel(100);
    let sender = Transport::start(
        &config(0, &[(1, &addr)]),
        cuttable_connector(generation.clone()),
        events,
    );
    let mut got = Vec::new();
    let mut next = 1;
    let send_up_to = |last: u64, next: &mut u64| {
        while *next <= last.min(N) {
            let lock = if next.is_multiple_of(2) {
                "cs"
            } else {
                "orders"
            };
            sender.send(NodeId(1), LockName::from(lock), numbered(*next));
            *next += 1;
        }
    };
    async fn receive(
        delivered: &mut mpsc::Receiver<TransportEvent>,
        got: &mut Vec<u64>,
        until: usize,
    ) {
        while got.len() < until {
            let ev = tokio::time::timeout(Duration::from_secs(10), delivered.recv())
                .await
                .expect("delivery within 10 s")
                .unwrap();
            if let TransportEvent::Message { lock, msg, .. } = ev {
                // The lock name (empty on the wire for `cs`) and the token arrive intact.
                let expected = if msg.lamport.0.is_multiple_of(2) {
                    "cs"
                } else {
                    "orders"
                };
                assert_eq!((lock.as_str(), msg.token.0), (expected, msg.lamport.0));
                got.push(msg.lamport.0);
            }
        }
    }
    let first = tokio::time::timeout(Duration::from_secs(10), link_events.recv()).await;
    assert!(
        matches!(first, Ok(Some(TransportEvent::PeerUp { .. }))),
        "{first:?}"
    );
    for round in 1..=3u64 {
        send_up_to(round * 900, &mut next);
        let until = got.len() + 200;
        receive(&mut delivered, &mut got, until).await;
        // Cut mid-stream, then send more so the sender runs into the cut.
        generation.fetch_add(1, Ordering::SeqCst);
        send_up_to(round * 900 + 50, &mut next);
        for expected in ["down", "up"] {
            let ev = tokio::time::timeout(Duration::from_secs(10), link_events.recv())
                .await
                .expect("link event within 10 s")
                .unwrap();
            let seen = match ev {
                TransportEvent::PeerDown { .. } => "down",
                TransportEvent::PeerUp { .. } => "up",
                TransportEvent::Message { .. }
                | TransportEvent::PeerIncarnation { .. }
                | TransportEvent::PeerEpoch { .. } => "receiver-side event",
                TransportEvent::Suspicion { .. } => "suspicion",
            };
            assert_eq!(seen, expected, "round {round}");
        }
    }
    send_up_to(N, &mut next);
    receive(&mut delivered, &mut got, N as usize).await;
    // Everything acknowledged means nothing more can be resent; then nothing else arrived.
    assert!(
        sender.close(Duration::from_secs(10)).await,
        "all acknowledged"
    );
    assert!(
        delivered.try_recv().is_err(),
        "no duplicate after the last message"
    );
    assert_eq!(got, (1..=N).collect::<Vec<_>>());
}

mod membership;
