//! Two answers of the transport that the link code does not need: a failed connect told as a
//! [`LinkDown`] (refused, or unreachable), and the `Recall` a starting node asks (what this
//! node remembers of it: `daemon/recall.rs`).

use super::LinkDown;
use super::PeerService;
use crate::daemon::node_log::NodeLog;
use crate::daemon::wire;
use crate::node_event::{FrameKind, NodeEvent};
use maekawa_core::id::NodeId;
use std::sync::atomic::Ordering;

/// A failed connect as a [`LinkDown`], in the words of its whole chain of causes: `Refused`
/// when the cause is a refused connection (nothing listens there), else `Unreachable`.
pub fn connect_failed(e: tonic::transport::Error) -> LinkDown {
    let mut words = e.to_string();
    let mut refused = false;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(c) = cause {
        words.push_str(": ");
        words.push_str(&c.to_string());
        refused |= c
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        cause = c.source();
    }
    if refused {
        LinkDown::Refused(words)
    } else {
        LinkDown::Unreachable(words)
    }
}

impl PeerService {
    /// Under mutual TLS a call speaks only for the node its certificate names: a link opened,
    /// or a recall asked, as node `from`. `what` says which, in the refusal.
    pub(super) fn speaks_for(
        &self,
        caller: Option<crate::tls::Role>,
        from: u32,
        what: &str,
    ) -> Result<(), tonic::Status> {
        match caller {
            Some(role) if role != crate::tls::Role::Node(NodeId(from)) => {
                let status = tonic::Status::permission_denied(format!(
                    "a certificate for {role} cannot {what} node {from}"
                ));
                refused(&self.log, Some(from), &status);
                Err(status)
            }
            _ => Ok(()),
        }
    }

    /// The caller meant this node (`to`), not another one at this address.
    pub(super) fn addressed_to_me(&self, to: u32) -> Result<(), tonic::Status> {
        if to == self.me.0 {
            return Ok(());
        }
        Err(tonic::Status::failed_precondition(format!(
            "this is node {}, not node {to}: check the addresses in quorums.json",
            self.me
        )))
    }

    /// What this node remembers of the asker: the newest incarnation of it that opened a link
    /// here, and this node's floor. Under mutual TLS only the asker's own certificate may ask.
    pub(super) async fn answer_recall(
        &self,
        request: tonic::Request<wire::RecallRequest>,
    ) -> Result<tonic::Response<wire::RecallReply>, tonic::Status> {
        let caller = self
            .gate
            .caller(&request)
            .inspect_err(|s| refused(&self.log, None, s))?;
        let ask = request.into_inner();
        self.speaks_for(caller, ask.from, "recall")?;
        self.addressed_to_me(ask.to)?;
        let state = self.sender(NodeId(ask.from))?;
        let incarnation = state.lock().await.incarnation;
        Ok(tonic::Response::new(wire::RecallReply {
            incarnation,
            token: self.floor.load(Ordering::Relaxed),
        }))
    }
}

/// Logs a link refused for its credentials (a stranger, or a certificate speaking for another
/// node): an operator should see who is knocking.
pub(super) fn refused(log: &NodeLog, claimed: Option<u32>, status: &tonic::Status) {
    log.log(&NodeEvent::RefusedLink {
        claimed: claimed.map_or(-1, i64::from),
        reason: status.message().to_string(),
    });
}

/// Logs a frame no correct node sends, refused on `from`'s link from `addr`.
pub(super) fn bad_frame(log: &NodeLog, frame: FrameKind, from: u32, addr: &str, reason: &str) {
    log.log(&NodeEvent::BadFrame {
        frame,
        from: NodeId(from),
        addr: addr.to_string(),
        reason: reason.to_string(),
    });
}
