//! The control service every daemon serves beside the peer links, and the client side of
//! `maekawa ctl`: ask a node for the CS, make it leave, withdraw its waiting request, and look
//! at its state.
//!
//! The service only forwards commands to the node's driver task (the one owner of the core)
//! and carries the answers back; it never touches protocol state itself. prost types stay in
//! this module and `transport`.

use crate::daemon::command::{Control, CtlOutcome, Status};
use crate::daemon::node_log::NodeLog;
use crate::daemon::settings::Workload;
use crate::daemon::wire;
use crate::tls::{Gate, Role, Security};
use maekawa_core::id::{Incarnation, Lamport, NodeId, RequestId};
use maekawa_core::protocol::Phase;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wire::control_client::ControlClient;
use wire::control_server::ControlServer;

/// The gRPC face of a node's driver for `maekawa ctl`.
pub struct ControlService {
    driver: mpsc::Sender<Control>,
    gate: Gate,
    log: NodeLog,
}

impl ControlService {
    /// A service forwarding to the driver behind `driver`; under mutual TLS (`gate`) only an
    /// admin certificate may move the node, and any certificate of the cluster may read (also
    /// the lines of `log` as they are written).
    pub fn new(driver: mpsc::Sender<Control>, gate: Gate, log: NodeLog) -> ControlService {
        ControlService { driver, gate, log }
    }

    /// Lets an admin through (everyone in plaintext).
    fn admin_only<T>(
        &self,
        request: &tonic::Request<T>,
        action: &str,
    ) -> Result<(), tonic::Status> {
        self.gate.require(
            request,
            action,
            |r| r == Role::Admin,
            "an admin certificate",
        )
    }

    /// The tonic service to mount on the node's server.
    pub fn into_server(self) -> ControlServer<ControlService> {
        ControlServer::new(self)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Control,
    ) -> Result<T, tonic::Status> {
        let (tx, rx) = oneshot::channel();
        self.driver
            .send(make(tx))
            .await
            .map_err(|_| tonic::Status::unavailable("the node is stopping"))?;
        rx.await
            .map_err(|_| tonic::Status::unavailable("the node is stopping"))
    }
}

fn reply(outcome: CtlOutcome) -> tonic::Response<wire::CtlReply> {
    tonic::Response::new(wire::CtlReply {
        ok: outcome.ok(),
        message: outcome.to_string(),
    })
}

fn to_wire(r: RequestId) -> wire::WireRequest {
    wire::WireRequest {
        ts: r.ts.0,
        node: r.node.0,
        inc: r.inc.0,
        epoch: r.epoch.0,
    }
}

fn from_wire(r: &wire::WireRequest) -> RequestId {
    RequestId {
        ts: Lamport(r.ts),
        node: NodeId(r.node),
        inc: Incarnation(r.inc),
        epoch: maekawa_core::id::Epoch(r.epoch),
    }
}

fn ids(v: &[NodeId]) -> Vec<u32> {
    v.iter().map(|n| n.0).collect()
}

#[tonic::async_trait]
impl wire::control_server::Control for ControlService {
    type EventsStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<wire::EventLines, tonic::Status>> + Send>,
    >;

    async fn events(
        &self,
        request: tonic::Request<wire::EventsRequest>,
    ) -> Result<tonic::Response<Self::EventsStream>, tonic::Status> {
        use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};
        use tokio_stream::StreamExt as _;
        self.gate.caller(&request)?;
        let (start, rx) = self.log.subscribe();
        let first = tokio_stream::iter(start.map(|line| {
            Ok(wire::EventLines {
                lines: line.to_vec(),
                dropped: 0,
            })
        }));
        let lines = BroadcastStream::new(rx).map(|r| {
            Ok(match r {
                Ok(lines) => wire::EventLines {
                    lines: lines.to_vec(),
                    dropped: 0,
                },
                Err(BroadcastStreamRecvError::Lagged(n)) => wire::EventLines {
                    lines: Vec::new(),
                    dropped: n,
                },
            })
        });
        Ok(tonic::Response::new(Box::pin(first.chain(lines))))
    }

    async fn request(
        &self,
        request: tonic::Request<wire::CtlEmpty>,
    ) -> Result<tonic::Response<wire::CtlReply>, tonic::Status> {
        self.admin_only(&request, "ctl request")?;
        Ok(reply(self.ask(Control::Request).await?))
    }

    async fn release(
        &self,
        request: tonic::Request<wire::CtlEmpty>,
    ) -> Result<tonic::Response<wire::CtlReply>, tonic::Status> {
        self.admin_only(&request, "ctl release")?;
        Ok(reply(self.ask(Control::Release).await?))
    }

    async fn cancel(
        &self,
        request: tonic::Request<wire::CtlEmpty>,
    ) -> Result<tonic::Response<wire::CtlReply>, tonic::Status> {
        self.admin_only(&request, "ctl cancel")?;
        Ok(reply(self.ask(Control::Cancel).await?))
    }

    async fn membership(
        &self,
        request: tonic::Request<wire::CtlEmpty>,
    ) -> Result<tonic::Response<wire::MembershipReply>, tonic::Status> {
        // Any certificate of the cluster may read.
        self.gate.caller(&request)?;
        let (epoch, json) = self.ask(Control::Membership).await?;
        Ok(tonic::Response::new(wire::MembershipReply { epoch, json }))
    }

    async fn drained(
        &self,
        request: tonic::Request<wire::DrainedRequest>,
    ) -> Result<tonic::Response<wire::DrainedReply>, tonic::Status> {
        self.gate.caller(&request)?;
        let r = request.into_inner();
        let exempt = r
            .exempt
            .as_ref()
            .filter(|_| !r.exempt_lock.is_empty())
            .map(|w| (r.exempt_lock.clone(), from_wire(w)));
        let epoch = r.epoch;
        let d = self
            .ask(|reply| Control::Drained {
                epoch,
                exempt,
                reply,
            })
            .await?;
        Ok(tonic::Response::new(wire::DrainedReply {
            drained: d.drained,
            epoch: d.epoch,
            floor: d.floor,
            holding: d.holding,
        }))
    }

    async fn propose(
        &self,
        request: tonic::Request<wire::ProposeRequest>,
    ) -> Result<tonic::Response<wire::CtlReply>, tonic::Status> {
        self.admin_only(&request, "cluster change")?;
        let json = request.into_inner().json;
        let outcome = self.ask(|reply| Control::Propose { json, reply }).await?;
        let (ok, message) = match outcome {
            Ok(m) => (true, m),
            Err(m) => (false, m),
        };
        Ok(tonic::Response::new(wire::CtlReply { ok, message }))
    }

    async fn status(
        &self,
        request: tonic::Request<wire::CtlEmpty>,
    ) -> Result<tonic::Response<wire::NodeStatus>, tonic::Status> {
        // Any certificate of the cluster may read.
        self.gate.caller(&request)?;
        let s = self.ask(Control::Status).await?;
        let (phase, request) = match s.phase {
            Phase::Idle => ("idle", None),
            Phase::Wanting(r) => ("wanting", Some(to_wire(r))),
            Phase::InCs(r) => ("in_cs", Some(to_wire(r))),
        };
        Ok(tonic::Response::new(wire::NodeStatus {
            node: s.node.0,
            incarnation: s.incarnation,
            phase: phase.into(),
            lamport: s.lamport,
            request,
            granted: ids(&s.granted),
            missing: ids(&s.missing),
            failed: ids(&s.failed),
            yielded: ids(&s.yielded),
            lock: s.lock.map(to_wire),
            queue: s.queue.into_iter().map(to_wire).collect(),
            entries: s.entries,
            workload: format!("{:?}", s.workload).to_lowercase(),
            suspected: ids(&s.suspected),
        }))
    }
}

/// Why `maekawa ctl` could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Nothing answers at the node's address.
    #[error("node {node} is not running (nothing answers on {addr}); start it with scripts/start-node.sh {node}")]
    NotRunning {
        /// The node.
        node: NodeId,
        /// Its address from the cluster file.
        addr: String,
    },
    /// The node answered but refused (e.g. release while not in the CS, cancel with nothing
    /// waiting).
    #[error("{0}")]
    Refused(String),
    /// The call failed after connecting.
    #[error("node {node} at {addr}: {why}")]
    Call {
        /// The node.
        node: NodeId,
        /// Its address.
        addr: String,
        /// What gRPC said.
        why: String,
    },
}

/// A connection to one node's control service.
pub struct CtlClient {
    node: NodeId,
    addr: String,
    tls: bool,
    channel: tonic::transport::Channel,
    inner: ControlClient<tonic::transport::Channel>,
}

impl CtlClient {
    /// Connects to node `node` at `addr` (from the cluster file), in plaintext or with this
    /// process's certificate as `security` says.
    pub async fn connect(
        node: NodeId,
        addr: &str,
        security: &Security,
    ) -> Result<CtlClient, CtlError> {
        let not_running = || CtlError::NotRunning {
            node,
            addr: addr.to_string(),
        };
        let channel = security
            .endpoint(addr)
            .map_err(|_| not_running())?
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
            .map_err(|_| not_running())?;
        Ok(CtlClient {
            node,
            addr: addr.to_string(),
            tls: security.is_tls(),
            inner: ControlClient::new(channel.clone()),
            channel,
        })
    }

    fn call_error(&self, s: tonic::Status) -> CtlError {
        let mut why = s.message().to_string();
        // A plaintext call to a node that speaks TLS breaks at the transport, with no word
        // about why: say the likely cause.
        if !self.tls && matches!(s.code(), tonic::Code::Unknown | tonic::Code::Unavailable) {
            why.push_str(
                " (if the cluster uses TLS, its certificates must be in certs/ beside the cluster file, or pass --certs DIR)",
            );
        }
        CtlError::Call {
            node: self.node,
            addr: self.addr.clone(),
            why,
        }
    }

    /// Asks the node to want the CS.
    pub async fn request(&mut self) -> Result<String, CtlError> {
        let r = self.inner.request(wire::CtlEmpty {}).await;
        self.answer(r)
    }

    /// Asks the node to leave the CS.
    pub async fn release(&mut self) -> Result<String, CtlError> {
        let r = self.inner.release(wire::CtlEmpty {}).await;
        self.answer(r)
    }

    /// Asks the node to withdraw its request that still waits for votes.
    pub async fn cancel(&mut self) -> Result<String, CtlError> {
        let r = self.inner.cancel(wire::CtlEmpty {}).await;
        self.answer(r)
    }

    fn answer(
        &self,
        r: Result<tonic::Response<wire::CtlReply>, tonic::Status>,
    ) -> Result<String, CtlError> {
        let reply = r.map_err(|s| self.call_error(s))?.into_inner();
        if reply.ok {
            Ok(reply.message)
        } else {
            Err(CtlError::Refused(reply.message))
        }
    }

    /// Whether the node can serve (`grpc.health.v1`): true while some quorum has no suspected
    /// member ([`crate::daemon::health`]).
    pub async fn serving(&mut self) -> Result<bool, CtlError> {
        let mut health = tonic_health::pb::health_client::HealthClient::new(self.channel.clone());
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map_err(|s| self.call_error(s))?
            .into_inner();
        Ok(answer.status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
    }

    /// The node's cluster configuration: its epoch and JSON.
    pub async fn membership(&mut self) -> Result<(u64, String), CtlError> {
        let r = self
            .inner
            .membership(wire::CtlEmpty {})
            .await
            .map_err(|s| self.call_error(s))?
            .into_inner();
        Ok((r.epoch, r.json))
    }

    /// Whether the node drained `epoch`, `exempt` (the change's reserved lock and request)
    /// aside.
    pub async fn drained(
        &mut self,
        epoch: u64,
        exempt: Option<(&str, RequestId)>,
    ) -> Result<crate::daemon::command::Drained, CtlError> {
        let r = self
            .inner
            .drained(wire::DrainedRequest {
                epoch,
                exempt_lock: exempt.map(|(l, _)| l.to_string()).unwrap_or_default(),
                exempt: exempt.map(|(_, r)| to_wire(r)),
            })
            .await
            .map_err(|s| self.call_error(s))?
            .into_inner();
        Ok(crate::daemon::command::Drained {
            drained: r.drained,
            epoch: r.epoch,
            floor: r.floor,
            holding: r.holding,
        })
    }

    /// Asks the node to adopt the configuration `json` and pass it on.
    pub async fn propose(&mut self, json: String) -> Result<String, CtlError> {
        let r = self.inner.propose(wire::ProposeRequest { json }).await;
        self.answer(r)
    }

    /// The node's state.
    pub async fn status(&mut self) -> Result<Status, CtlError> {
        let s = self
            .inner
            .status(wire::CtlEmpty {})
            .await
            .map_err(|s| self.call_error(s))?
            .into_inner();
        let req = s.request.as_ref().map(from_wire);
        let phase = match (s.phase.as_str(), req) {
            ("wanting", Some(r)) => Phase::Wanting(r),
            ("in_cs", Some(r)) => Phase::InCs(r),
            _ => Phase::Idle,
        };
        let nodes = |v: &[u32]| v.iter().map(|&n| NodeId(n)).collect();
        Ok(Status {
            node: NodeId(s.node),
            incarnation: s.incarnation,
            phase,
            lamport: s.lamport,
            granted: nodes(&s.granted),
            missing: nodes(&s.missing),
            failed: nodes(&s.failed),
            yielded: nodes(&s.yielded),
            lock: s.lock.as_ref().map(from_wire),
            queue: s.queue.iter().map(from_wire).collect(),
            entries: s.entries,
            workload: if s.workload == "manual" {
                Workload::Manual
            } else {
                Workload::Auto
            },
            suspected: nodes(&s.suspected),
        })
    }
}
