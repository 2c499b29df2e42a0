//! Lost disks in the model (issue 27): when a node that lost its disk waits for floor
//! witnesses that cannot come (a run owed no more entries of it), and when its journal is
//! whole again.

use super::Cluster;
use crate::id::NodeId;
use crate::member::Member;
use std::collections::BTreeSet;

impl Cluster {
    /// True when a live node that lost its disk waits for token floor witnesses that can no
    /// longer come: some quorum it is in has no other live node that knows its floor or can
    /// learn it (every other one died, or lost its disk too with no witness of its own). It
    /// rightly grants nothing, so the requests that need it are owed no entry.
    pub fn floor_out_of_reach(&self) -> bool {
        let live: Vec<&Member> = self
            .nodes
            .iter()
            .filter(|m| !self.stopped.contains(&m.id()))
            .map(|m| &**m)
            .collect();
        let mut knowers: BTreeSet<NodeId> = live
            .iter()
            .filter(|m| m.knows_floor())
            .map(|m| m.id())
            .collect();
        loop {
            let learn: Vec<NodeId> = live
                .iter()
                .filter(|m| !knowers.contains(&m.id()))
                .filter(|m| m.system().witnessed(m.id(), &knowers))
                .map(|m| m.id())
                .collect();
            if learn.is_empty() {
                break;
            }
            knowers.extend(learn);
        }
        live.iter()
            .any(|m| m.awaits_floor() && !knowers.contains(&m.id()))
    }

    /// A node that lost its disk has recorded the floor it learned and waited out its quiet
    /// period: its journal is whole again (the daemon removes `node-<id>.rejoin`).
    pub(super) fn journal_whole_again(&mut self, id: NodeId) {
        let m = self.node(id);
        let whole = !m.awaits_floor() && self.time >= m.quiet_until();
        let journal = &mut self.journals[id.0 as usize];
        if journal.lost && whole {
            journal.lost = false;
        }
    }
}
