//! Crash-restarts in the model: the node's volatile state is lost, its journal (and, with a
//! lost disk, not even that) gives the new process its votes, floor and configuration, and
//! every link carries a Hello of the new incarnation.

use super::{Cluster, Item, Journal};
use crate::id::{Epoch, NodeId, RequestId, Token};
use crate::member::{LockAction, LockName, Member};
use std::sync::Arc;

impl Cluster {
    pub(super) fn crash_restart(
        &mut self,
        c: NodeId,
        keep: (bool, bool),
        lose_disk: bool,
    ) -> Vec<LockAction> {
        let (keep_inbound, keep_outbound) = keep;
        self.crash.crashes -= 1;
        let n = self.nodes.len();
        let old = self.node(c);
        let (options, incarnation) = (old.options(), old.incarnation());
        if lose_disk {
            self.crash.disk_losses -= 1;
            let locks = self.names.len();
            self.journals[c.0 as usize] = Journal {
                votes: vec![None; locks],
                floor: Token(0),
                lost: true,
                epoch: Epoch(0),
            };
        }
        let journal = &self.journals[c.0 as usize];
        let votes: Vec<(LockName, RequestId)> = if self.crash.journal {
            journal
                .votes
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|r| (self.names[i].clone(), r)))
                .collect()
        } else {
            Vec::new()
        };
        let floor = if self.crash.journal_token {
            journal.floor
        } else {
            Token(0)
        };
        let lost = journal.lost;
        let (epoch, system, config_floor) = self.restart_system(c);
        let (restored, mut actions) = Member::restore_in(
            c,
            system,
            incarnation.next(),
            &votes,
            floor,
            options,
            self.time,
        );
        let mut restored = restored.starting_in(epoch, config_floor);
        if lost {
            restored.lost_journal(self.time);
        }
        let wants_floor = restored.awaits_floor();
        // What it suspected is gone with the process; it learns again.
        for peer in self.stopped.iter().copied().filter(|&p| p != c) {
            actions.extend(restored.set_suspected(peer, true));
        }
        self.nodes[c.0 as usize] = Arc::new(restored);
        for x in 0..n as u32 {
            let x = NodeId(x);
            let (to_c, from_c) = (self.link_index(x, c), self.link_index(c, x));
            if x == c {
                Arc::make_mut(&mut self.links[to_c]).clear();
                continue;
            }
            let inbound = Arc::make_mut(&mut self.links[to_c]);
            let dead = self.stopped.contains(&x);
            // A dead peer resends nothing and opens no link: what it had sent the old
            // process is gone with that process's connections.
            if !keep_inbound || dead {
                inbound.clear();
            }
            let peer = &self.nodes[x.0 as usize];
            if !dead {
                // The Hello announces the floor the peer's journal holds, as the daemon's does.
                let wants = peer.awaits_floor();
                let (inc, floor) = (peer.incarnation(), peer.journal_floor());
                inbound.push_front(Item::Hello(inc, floor, wants, peer.epoch()));
            }
            let outbound = Arc::make_mut(&mut self.links[from_c]);
            if !keep_outbound {
                outbound.clear();
            }
            if !self.stopped.contains(&x) {
                outbound.push_back(Item::Hello(incarnation.next(), floor, wants_floor, epoch));
            }
        }
        // The restored votes' Resyncs were sent by the new process: they follow its Hellos.
        actions
    }
}
