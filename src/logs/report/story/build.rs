//! Building a [`Story`]: the lines about the request in every node log, the messages paired
//! send to recv, what happened before the entry, the context (re-votes, kills, restarts), how
//! the CS ended, and the merge into one causal order (the module doc of `story` says each rule).
//!
//! It only reads the lines `node_logs` read and the CS log lines it is given.

use super::context::Context;
use super::{clock, msg_key, At, Ending, Item, Key, Step, Story};
use crate::logs::cslog::{CsEvent, CsLine};
use crate::logs::report::node_logs::{Dir, Ev, Line, NodeLog};
use crate::logs::report::select::find_entry;
use crate::logs::report::{EntrySelector, ReportError};
use maekawa_core::id::{Incarnation, Lamport, NodeId, RequestId};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// The request of the entry: its id, and the process that made it (`None`: the log has no
/// `start` line, so any incarnation is accepted).
#[derive(Clone, Copy)]
struct Wanted {
    req: RequestId,
    inc: Option<u64>,
}

impl Wanted {
    fn is(&self, r: &RequestId) -> bool {
        r.ts == self.req.ts && r.node == self.req.node && self.inc.is_none_or(|i| r.inc.0 == i)
    }
}

/// The lines about the request, per node, as indices into its log, in log order.
struct Lists<'a> {
    by_node: BTreeMap<NodeId, &'a NodeLog>,
    lists: BTreeMap<NodeId, Vec<usize>>,
}

impl<'a> Lists<'a> {
    /// The `pos`-th line of `node`'s list.
    fn line(&self, node: NodeId, pos: usize) -> &'a Line {
        &self.by_node[&node].lines[self.lists[&node][pos]]
    }
}

/// The story's items by node and key, and which must come after which.
type Items<'a> = BTreeMap<NodeId, BTreeMap<Key, Item<'a>>>;

impl<'a> Story<'a> {
    /// The story of the entry `sel` names, from the logs of every node and, when it could be
    /// read, the CS log (to tell a process that died inside the CS from one whose log lost its
    /// `exit_cs`); an error when the node never made that entry.
    pub(in crate::logs::report) fn build(
        logs: &'a [NodeLog],
        sel: &EntrySelector,
        cs: Option<&[CsLine]>,
    ) -> Result<Story<'a>, ReportError> {
        let me = NodeId(sel.node);
        let by_node: BTreeMap<NodeId, &'a NodeLog> = logs.iter().map(|l| (l.node, l)).collect();
        let log = *by_node
            .get(&me)
            .expect("the caller checked that the node has a log");
        let (enter_at, enter) = find_entry(log, sel)?;
        let Ev::EnterCs {
            entry,
            ts,
            votes,
            wait_ms,
        } = &enter.ev
        else {
            unreachable!("find_entry returns an enter_cs line")
        };
        let inc = enter.inc;
        let wanted = Wanted {
            req: RequestId {
                ts: Lamport(*ts),
                node: me,
                inc: Incarnation(inc.unwrap_or(0)),
                epoch: maekawa_core::id::Epoch(0),
            },
            inc,
        };
        let lists = Lists {
            lists: request_lines(logs, me, enter_at, wanted),
            by_node,
        };
        let send_of = pair_sends(&lists);
        let cut = happened_before(&lists, &send_of, me);
        let (mut items, mut after) = items(&lists, &send_of, &cut);
        let mut context = Context {
            by_node: &lists.by_node,
            me,
            items: &mut items,
            after: &mut after,
            restarts: Vec::new(),
        };
        add_context(&mut context, wanted);
        let ending = ending(&mut context, log, enter_at, *entry, cs);
        let restarts = std::mem::take(&mut context.restarts);
        let order = causal_order(&items, &after);
        let mut story = Story {
            node: me,
            entry: *entry,
            inc,
            req: wanted.req,
            votes: votes.clone(),
            wait_ms: *wait_ms,
            steps: Vec::new(),
            restarts,
            ending,
        };
        story.steps = steps(&story, items, &after, order);
        Ok(story)
    }
}

/// The lines about the request, per node, as indices into its log, in log order; the
/// requester's end at the entry (line `enter_at`).
fn request_lines(
    logs: &[NodeLog],
    me: NodeId,
    enter_at: usize,
    wanted: Wanted,
) -> BTreeMap<NodeId, Vec<usize>> {
    let mut lists: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new();
    for l in logs {
        let list: Vec<usize> = if l.node == me {
            (0..=enter_at)
                .filter(|&i| {
                    let x = &l.lines[i];
                    x.inc == wanted.inc
                        && match &x.ev {
                            Ev::RequestCs { ts, node }
                            | Ev::InquiryDeferred { ts, node, .. }
                            | Ev::Ignored { ts, node, .. } => *ts == wanted.req.ts.0 && *node == me,
                            Ev::Msg { req: r, .. } | Ev::Revote { req: r, .. } => wanted.is(r),
                            Ev::EnterCs { .. } => i == enter_at,
                            _ => false,
                        }
                })
                .collect()
        } else {
            // `ignored` lines name no incarnation, so at another node they could be about an
            // older request with the same (ts, node): they are left out.
            (0..l.lines.len())
                .filter(|&i| match &l.lines[i].ev {
                    Ev::Msg { req: r, .. } | Ev::Revote { req: r, .. } => wanted.is(r),
                    _ => false,
                })
                .collect()
        };
        if !list.is_empty() {
            lists.insert(l.node, list);
        }
    }
    lists
}

/// Every recv paired with its send: the k-th recv of a message key with its k-th send, as
/// (node, position in its list).
fn pair_sends(lists: &Lists<'_>) -> HashMap<(NodeId, usize), (NodeId, usize)> {
    let mut sends: HashMap<_, VecDeque<(NodeId, usize)>> = HashMap::new();
    for (&node, list) in &lists.lists {
        for pos in 0..list.len() {
            if let Some((Dir::Send, key)) = msg_key(lists.line(node, pos)) {
                sends.entry(key).or_default().push_back((node, pos));
            }
        }
    }
    let mut send_of = HashMap::new();
    for (&node, list) in &lists.lists {
        for pos in 0..list.len() {
            if let Some((Dir::Recv, key)) = msg_key(lists.line(node, pos)) {
                if let Some(send) = sends.get_mut(&key).and_then(VecDeque::pop_front) {
                    send_of.insert((node, pos), send);
                }
            }
        }
    }
    send_of
}

/// What happened before the entry: per node, the length of the prefix of its list that
/// precedes the entry (the requester's whole list, and every send whose recv is kept).
fn happened_before(
    lists: &Lists<'_>,
    send_of: &HashMap<(NodeId, usize), (NodeId, usize)>,
    me: NodeId,
) -> BTreeMap<NodeId, usize> {
    let mut cut: BTreeMap<NodeId, usize> = lists.lists.keys().map(|&n| (n, 0)).collect();
    cut.insert(me, lists.lists.get(&me).map_or(0, Vec::len));
    let mut scanned: BTreeMap<NodeId, usize> = cut.keys().map(|&n| (n, 0)).collect();
    loop {
        let mut grown = false;
        for (&node, &end) in cut.clone().iter() {
            let from = scanned[&node];
            for pos in from..end {
                if let Some(&(sender, at)) = send_of.get(&(node, pos)) {
                    let c = cut.get_mut(&sender).expect("every list has a cut");
                    if *c <= at {
                        *c = at + 1;
                        grown = true;
                    }
                }
            }
            scanned.insert(node, end.max(from));
        }
        if !grown {
            return cut;
        }
    }
}

/// The story's lines by node and key, and `after[x] = y` for each recv `x` of send `y`.
fn items<'a>(
    lists: &Lists<'a>,
    send_of: &HashMap<(NodeId, usize), (NodeId, usize)>,
    cut: &BTreeMap<NodeId, usize>,
) -> (Items<'a>, HashMap<At, At>) {
    let mut items: Items<'a> = BTreeMap::new();
    let mut after: HashMap<At, At> = HashMap::new();
    for (&node, &end) in cut {
        for pos in 0..end {
            let key = (lists.lists[&node][pos], 1);
            let item = Item {
                line: Cow::Borrowed(lists.line(node, pos)),
                note: None,
            };
            items.entry(node).or_default().insert(key, item);
            if let Some(&(sender, at)) = send_of.get(&(node, pos)) {
                after.insert((node, key), (sender, (lists.lists[&sender][at], 1)));
            }
        }
    }
    (items, after)
}

/// What changed a voter's mind while the request was in its hands: re-votes about other
/// requests (a dead holder's vote freed), what set them off, and restarts.
fn add_context(context: &mut Context<'_, '_>, wanted: Wanted) {
    let spans: Vec<(NodeId, usize, usize)> = context
        .items
        .iter()
        .filter_map(|(&n, list)| {
            let first = list.keys().next()?.0;
            let last = list.keys().next_back()?.0;
            Some((n, first, last))
        })
        .collect();
    let me = context.me;
    for (node, first, last) in spans {
        let lines = &context.by_node[&node].lines;
        for (i, x) in lines.iter().enumerate().take(last + 1).skip(first) {
            if node == me && x.inc != wanted.inc {
                continue;
            }
            match &x.ev {
                Ev::Revote { req: r, .. } if !wanted.is(r) => context.revote(node, i, r),
                Ev::Start { .. } if node != me => {
                    context.start(node, i, None);
                }
                _ => {}
            }
        }
    }
}

/// How the CS of the entry (line `enter_at` of `log`) ended: a process that died inside it is
/// shown dying.
fn ending(
    context: &mut Context<'_, '_>,
    log: &NodeLog,
    enter_at: usize,
    entry: u64,
    cs: Option<&[CsLine]>,
) -> Ending {
    let next_start = log.lines[enter_at + 1..]
        .iter()
        .position(|x| matches!(x.ev, Ev::Start { .. }))
        .map(|p| enter_at + 1 + p);
    let rest = &log.lines[enter_at + 1..next_start.unwrap_or(log.lines.len())];
    let left = rest.iter().any(|x| match x.ev {
        Ev::ExitCs { entry: e } => e == entry,
        Ev::Stop => true,
        _ => false,
    }) || cs
        .and_then(|cs| cs_log_exited(cs, context.me, log.lines[enter_at].inc, entry))
        == Some(true);
    match next_start {
        _ if left => Ending::Normal,
        Some(s) => {
            context.start(context.me, s, Some(entry));
            Ending::DiedInside {
                restart: log.lines[s].time.clone(),
            }
        }
        None => Ending::Normal,
    }
}

/// Whether the CS log shows `node`'s entry `entry` of process `inc` leaving the CS (`exit`)
/// before the node's next `start`; `None` when the CS log does not have that entry.
fn cs_log_exited(cs: &[CsLine], node: NodeId, inc: Option<u64>, entry: u64) -> Option<bool> {
    let mut current: Option<u64> = None;
    let mut inside = false;
    for l in cs {
        match &l.event {
            CsEvent::Start {
                node: n,
                incarnation,
                ..
            } if *n == node => {
                if inside {
                    return Some(false);
                }
                current = Some(*incarnation);
            }
            CsEvent::Enter {
                node: n, entry: e, ..
            } if *n == node && *e == entry && inc.is_none_or(|i| current == Some(i)) => {
                inside = true;
            }
            CsEvent::Exit {
                node: n, entry: e, ..
            } if inside && *n == node && *e == entry => {
                return Some(true);
            }
            _ => {}
        }
    }
    inside.then_some(false)
}

/// The clock each item sorts by. A line without a clock takes the one before it in its node's
/// list. A context line has none of its own and is about no message of the story: it goes
/// after the story's lines written no later than it (by timestamp), but never after the next
/// clocked line of its own list, and after the lines of the same clock.
fn effective_clocks(items: &Items<'_>) -> HashMap<At, u64> {
    let mut eff: HashMap<At, u64> = HashMap::new();
    let mut context: Vec<(At, &str, Option<u64>)> = Vec::new();
    for (&node, list) in items {
        let clocks: Vec<Option<u64>> = list.values().map(|it| clock(&it.line.ev)).collect();
        let mut next: Vec<Option<u64>> = vec![None; clocks.len()];
        let mut upcoming = None;
        for k in (0..clocks.len()).rev() {
            upcoming = clocks[k].or(upcoming);
            next[k] = upcoming;
        }
        let mut prev = 0;
        for (k, (key, it)) in list.iter().enumerate() {
            let at = (node, *key);
            match (clocks[k], it.note.is_some()) {
                (Some(c), _) => {
                    prev = c;
                    eff.insert(at, c);
                }
                (None, false) => {
                    eff.insert(at, prev);
                }
                (None, true) => context.push((at, &it.line.time, next[k])),
            }
        }
    }
    let story_times: Vec<(&str, u64)> = items
        .iter()
        .flat_map(|(&n, list)| list.iter().map(move |(k, it)| ((n, *k), it)))
        .filter(|(_, it)| it.note.is_none())
        .map(|(at, it)| (it.line.time.as_str(), eff[&at]))
        .collect();
    for (at, time, cap) in context {
        // Times are RFC 3339 with a fixed number of digits: as strings they sort as times.
        let by_time = story_times
            .iter()
            .filter(|(t, _)| *t <= time)
            .map(|&(_, e)| e)
            .max()
            .unwrap_or(0);
        eff.insert(at, cap.map_or(by_time, |c| by_time.min(c)));
    }
    eff
}

/// The items merged in causal order: the smallest (clock, node, send first) among lines that
/// may come next (each node's lines in log order, a recv after its send).
fn causal_order(items: &Items<'_>, after: &HashMap<At, At>) -> Vec<At> {
    let eff = effective_clocks(items);
    let keys: BTreeMap<NodeId, Vec<Key>> = items
        .iter()
        .map(|(&n, list)| (n, list.keys().copied().collect()))
        .collect();
    let mut head: BTreeMap<NodeId, usize> = keys.keys().map(|&n| (n, 0)).collect();
    let mut done: BTreeSet<At> = BTreeSet::new();
    let mut order: Vec<At> = Vec::new();
    loop {
        // A line whose send (or cause) is not out yet waits (`false` sorts first); all
        // waiting would mean a cycle, which real logs cannot have: then the smallest goes
        // anyway.
        let next = head
            .iter()
            .filter(|&(node, &pos)| pos < keys[node].len())
            .map(|(&node, &pos)| {
                let at = (node, keys[&node][pos]);
                let ready = after.get(&at).is_none_or(|b| done.contains(b));
                let item = &items[&node][&at.1];
                let rank = match msg_key(&item.line) {
                    Some((Dir::Send, _)) => 0,
                    _ => 1,
                };
                ((!ready, eff[&at], item.note.is_some(), node, rank), at)
            })
            .min();
        let Some((_, at)) = next else {
            return order;
        };
        done.insert(at);
        order.push(at);
        *head.get_mut(&at.0).expect("a head per node") += 1;
    }
}

/// The steps of the story, in `order`, each with its note.
fn steps<'a>(
    story: &Story<'a>,
    mut items: Items<'a>,
    after: &HashMap<At, At>,
    order: Vec<At>,
) -> Vec<Step<'a>> {
    let mut held: BTreeSet<NodeId> = BTreeSet::new();
    let mut steps = Vec::with_capacity(order.len());
    for (node, key) in order {
        let item = items
            .get_mut(&node)
            .and_then(|l| l.remove(&key))
            .expect("every ordered key has an item");
        let unmatched = matches!(msg_key(&item.line), Some((Dir::Recv, _)))
            && item.note.is_none()
            && !after.contains_key(&(node, key));
        let (note, stands_out) = match item.note {
            Some(note) => {
                let loud = matches!(item.line.ev, Ev::Killed { .. } | Ev::Start { .. });
                (note, loud)
            }
            None => story.note(&item.line, unmatched, &mut held),
        };
        steps.push(Step {
            line: item.line,
            unmatched,
            note,
            stands_out,
        });
    }
    steps
}
