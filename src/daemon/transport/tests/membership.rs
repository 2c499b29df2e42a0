//! Peers added, moved and removed while the transport runs; the configuration epoch of the
//! Hello; attachments.

use super::*;
use tokio::task::JoinHandle;

/// Time enough for anything these tests wait for on a loaded machine.
const WITHIN: Duration = Duration::from_secs(10);

/// A server of `service` on an OS-assigned port of 127.0.0.1: its address, what stops it, and
/// its task, which ends once the server has stopped (after its connections closed).
async fn serve(service: PeerService) -> (String, oneshot::Sender<()>, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(service.into_server())
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await;
    });
    (addr, stop, task)
}

/// The next event, which must come within [`WITHIN`].
async fn next(events: &mut mpsc::Receiver<TransportEvent>) -> TransportEvent {
    tokio::time::timeout(WITHIN, events.recv())
        .await
        .expect("an event in time")
        .expect("the events go on")
}

/// The next link event of a sender, skipping nothing: it must be `PeerUp`.
async fn up(links: &mut mpsc::Receiver<TransportEvent>) {
    let ev = next(links).await;
    assert!(matches!(ev, TransportEvent::PeerUp { .. }), "{ev:?}");
}

/// The numbers (lamport) of the next `n` messages delivered, with their attachments; the
/// other events of the receiver (incarnations, epochs) are skipped.
async fn messages(
    delivered: &mut mpsc::Receiver<TransportEvent>,
    n: usize,
) -> Vec<(u64, Option<Vec<u8>>)> {
    let mut got = Vec::new();
    while got.len() < n {
        if let TransportEvent::Message {
            from,
            msg,
            attachment,
            ..
        } = next(delivered).await
        {
            assert_eq!(from, NodeId(0));
            got.push((msg.lamport.0, attachment));
        }
    }
    got
}

/// Just the numbers of [`messages`].
async fn numbers(delivered: &mut mpsc::Receiver<TransportEvent>, n: usize) -> Vec<u64> {
    let got = messages(delivered, n).await;
    got.into_iter().map(|(i, _)| i).collect()
}

fn send_range(sender: &Transport, range: std::ops::RangeInclusive<u64>) {
    for i in range {
        sender.send(NodeId(1), LockName::from("cs"), numbered(i));
    }
}

/// Node 1 serving (peers as given), and node 0's transport with node 1 as its peer and its
/// link up: the receiver's events, the sender's link events, and the cut generation.
struct Pair {
    sender: Transport,
    sender_cfg: TransportConfig,
    service: PeerService,
    addr: String,
    delivered: mpsc::Receiver<TransportEvent>,
    links: mpsc::Receiver<TransportEvent>,
    generation: Arc<AtomicU64>,
    /// Node 1's server stops when this is dropped.
    _stop: oneshot::Sender<()>,
}

async fn pair(epoch: u64) -> Pair {
    let (deliver, delivered) = mpsc::channel(10_000);
    let service = PeerService::new(&config(1, &[(0, "unused")]), deliver);
    let (addr, stop, _task) = serve(service.clone()).await;
    let mut sender_cfg = config(0, &[(1, &addr)]);
    sender_cfg.epoch = Arc::new(AtomicU64::new(epoch));
    let generation = Arc::new(AtomicU64::new(0));
    let (events, mut links) = mpsc::channel(100);
    let sender = Transport::start(&sender_cfg, cuttable_connector(generation.clone()), events);
    up(&mut links).await;
    Pair {
        sender,
        sender_cfg,
        service,
        addr,
        delivered,
        links,
        generation,
        _stop: stop,
    }
}

/// A peer's silence is watched from when it is added (as if just heard; one already watched
/// keeps its state), and a removed one is never suspected again.
#[test]
fn added_peers_are_watched_from_now_and_removed_ones_never_again() {
    let ms = Duration::from_millis;
    let t0 = Instant::now() - Duration::from_secs(5);
    let live = Liveness::heard_at([NodeId(1), NodeId(2)], ms(1000), t0);
    live.remove_peer(NodeId(2));
    live.add_peer(NodeId(3));
    live.add_peer(NodeId(1));
    assert_eq!(live.newly_silent(t0 + ms(1000)), [(NodeId(1), ms(1000))]);
    let later = Instant::now() + ms(1000);
    let silent: Vec<NodeId> = live
        .newly_silent(later)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(silent, [NodeId(3)], "node 2 is not watched");
    assert_eq!(live.heard(NodeId(2), later), None);
}

/// A peer added at run time, to the sender's transport and the receiver's service, gets its
/// messages in order; before, a send to it goes nowhere; its silence is watched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_added_at_run_time_receives_messages_in_order() {
    let (deliver, mut delivered) = mpsc::channel(1000);
    let service = PeerService::new(&config(1, &[]), deliver);
    let (addr, _stop, _task) = serve(service.clone()).await;
    let cfg = config(0, &[]);
    let (events, mut links) = mpsc::channel(100);
    let mut sender = Transport::start(&cfg, cuttable_connector(Arc::default()), events);
    assert!(sender.peers().is_empty());
    sender.send(NodeId(1), LockName::from("cs"), numbered(1_000));
    service.add_peer(NodeId(0));
    sender.add_peer(NodeId(1), addr);
    assert_eq!(sender.peers(), [NodeId(1)]);
    up(&mut links).await;
    send_range(&sender, 1..=500);
    assert_eq!(
        numbers(&mut delivered, 500).await,
        (1..=500).collect::<Vec<_>>()
    );
    let silent = cfg.liveness.newly_silent(Instant::now() + QUIET);
    assert_eq!(silent.len(), 1);
    assert_eq!(silent[0].0, NodeId(1), "the added peer is watched");
    assert!(sender.close(WITHIN).await, "all acknowledged");
    assert!(delivered.try_recv().is_err(), "nothing else arrived");
}

/// A peer moves: a second server for node 1 (the same service) on another port, the link
/// readdressed while it is up and streaming, the first server stopped. The link to the old
/// address is dropped (the old server can stop, as it waits for its connections), and every
/// message arrives at the new one in order, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_a_moved_peer_arrive_in_order_exactly_once() {
    const N: u64 = 2_000;
    let (deliver, mut delivered) = mpsc::channel(N as usize + 100);
    let service = PeerService::new(&config(1, &[(0, "unused")]), deliver);
    let (addr1, stop1, task1) = serve(service.clone()).await;
    let (events, mut links) = mpsc::channel(100);
    let sender = Transport::start(
        &config(0, &[(1, &addr1)]),
        cuttable_connector(Arc::default()),
        events,
    );
    up(&mut links).await;
    send_range(&sender, 1..=N / 2);
    let mut got = numbers(&mut delivered, 200).await;
    let (addr2, _stop2, _task2) = serve(service.clone()).await;
    sender.readdress(NodeId(1), addr2.clone());
    sender.readdress(NodeId(1), addr2.clone()); // the same address again: nothing happens
    let _ = stop1.send(());
    send_range(&sender, N / 2 + 1..=N);
    match next(&mut links).await {
        TransportEvent::PeerDown { reason, .. } => {
            assert_eq!(reason, format!("the peer moved to {addr2}"))
        }
        other => panic!("{other:?}"),
    }
    up(&mut links).await;
    tokio::time::timeout(WITHIN, task1)
        .await
        .expect("the old server stops: nothing links to it any more")
        .unwrap();
    got.extend(numbers(&mut delivered, N as usize - got.len()).await);
    assert!(sender.close(WITHIN).await, "all acknowledged");
    assert!(delivered.try_recv().is_err(), "no duplicate after the last");
    assert_eq!(got, (1..=N).collect::<Vec<_>>());
}

/// A removed peer: its open link ends, its new links are refused as an unknown node's, and
/// its silence is no longer watched; sending to it afterwards does nothing. Added again on
/// both sides, it gets new messages only (what was queued before is dropped), numbered on so
/// the receiver, which remembers what it delivered, takes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_peer_is_refused_and_sending_to_it_does_nothing() {
    let mut p = pair(0).await;
    send_range(&p.sender, 1..=1);
    assert_eq!(numbers(&mut p.delivered, 1).await, [1]);
    p.service.remove_peer(NodeId(0));
    match next(&mut p.links).await {
        TransportEvent::PeerDown { reason, .. } => {
            assert_eq!(reason, "node 0 is not a peer of node 1")
        }
        other => panic!("{other:?}"),
    }
    // Queued while refused: dropped with the link.
    send_range(&p.sender, 2..=2);
    let mut client = wire::peer_client::PeerClient::connect(format!("http://{}", p.addr))
        .await
        .unwrap();
    let hello = wire::LinkFrame {
        body: Some(wire::link_frame::Body::Hello(wire::Hello {
            from: 0,
            to: 1,
            incarnation: 1,
            boot: 1,
            ..Default::default()
        })),
    };
    let refused = client.link(tokio_stream::iter([hello])).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    p.sender.remove_peer(NodeId(1));
    assert!(p.sender.peers().is_empty());
    send_range(&p.sender, 3..=3);
    let silent = p.sender_cfg.liveness.newly_silent(Instant::now() + QUIET);
    assert!(silent.is_empty(), "{silent:?}");
    p.service.add_peer(NodeId(0));
    p.sender.add_peer(NodeId(1), p.addr.clone());
    up(&mut p.links).await;
    send_range(&p.sender, 4..=5);
    assert_eq!(numbers(&mut p.delivered, 2).await, [4, 5]);
    assert!(p.sender.close(WITHIN).await, "all acknowledged");
    assert!(p.delivered.try_recv().is_err(), "neither 2 nor 3 arrived");
}

/// The events of the receiver up to and including the next message, without that message's
/// contents: what came before it.
async fn until_message(delivered: &mut mpsc::Receiver<TransportEvent>) -> Vec<TransportEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = next(delivered).await;
        let done = matches!(ev, TransportEvent::Message { .. });
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

/// The Hello's epoch reaches the receiver as `PeerEpoch`, before the new incarnation and
/// the link's first message; again on every link accepted, with the epoch of the
/// moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hello_epoch_comes_before_the_first_message_of_every_link() {
    let mut p = pair(7).await;
    send_range(&p.sender, 1..=1);
    let seen = until_message(&mut p.delivered).await;
    let epoch = |epoch| TransportEvent::PeerEpoch {
        peer: NodeId(0),
        epoch,
    };
    assert_eq!(seen.len(), 3, "{seen:?}");
    // The epoch first: a peer that is behind gets the configuration before the Sync and the
    // Floor that answer a new incarnation.
    assert_eq!(seen[0], epoch(7));
    assert!(
        matches!(
            seen[1],
            TransportEvent::PeerIncarnation { incarnation: 1, .. }
        ),
        "{seen:?}"
    );
    p.sender.set_epoch(8);
    assert_eq!(p.sender_cfg.epoch.load(Ordering::Relaxed), 8);
    p.generation.fetch_add(1, Ordering::SeqCst);
    send_range(&p.sender, 2..=2);
    let seen = until_message(&mut p.delivered).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], epoch(8), "a new link, the same process");
    assert!(p.sender.close(WITHIN).await, "all acknowledged");
}

/// An attachment travels with its message, up to the limit; a message without one arrives
/// without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_arrives_with_its_message() {
    let mut p = pair(0).await;
    let small: Arc<[u8]> = Arc::from(&b"{\"epoch\":1}"[..]);
    let big: Vec<u8> = (0..crate::daemon::validate::MAX_ATTACHMENT)
        .map(|i| i as u8)
        .collect();
    let cs = || LockName::from("cs");
    p.sender
        .send_with(NodeId(1), cs(), numbered(1), Some(small.clone()));
    p.sender.send(NodeId(1), cs(), numbered(2));
    p.sender
        .send_with(NodeId(1), cs(), numbered(3), Some(Arc::from(big.clone())));
    assert_eq!(
        messages(&mut p.delivered, 3).await,
        [(1, Some(small.to_vec())), (2, None), (3, Some(big))]
    );
    assert!(p.sender.close(WITHIN).await, "all acknowledged");
}
