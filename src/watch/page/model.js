// maekawa watch, 1 of 3: the model. Loaded first (index.html: model.js, draw.js, app.js as
// plain scripts sharing one global scope: no modules, no build step, because the files are
// embedded in the binary as they are and must work with no network).
//
// The page keeps a model of every node, derived only from the node-log lines it is given
// (README "Logs"): apply(line) updates it, whether the line came live over Server-Sent Events
// or from a replayed run. It calls into draw.js (launch, land, note) to animate a line.
'use strict';


// RFC 3339 with microseconds → milliseconds (float). Date.parse keeps only milliseconds, and
// a node's lines are often microseconds apart.
function parseTs(s) {
  if (typeof s !== 'string') return NaN;
  const m = s.match(/^(.*T\d\d:\d\d:\d\d)(\.(\d+))?(Z|[+-]\d\d:\d\d)$/);
  if (!m) return Date.parse(s);
  const frac = m[3] ? Number('0.' + m[3]) * 1000 : 0;
  return Date.parse(m[1] + m[4]) + frac;
}
const clockOf = s => (typeof s === 'string' && s.includes('T')) ? s.slice(11, 23) : '';
const reqStr = r => r ? `(${r.ts}, ${r.node})` : '';
const sameReq = (a, b) => a && b && a.ts === b.ts && a.node === b.node;
const lockOf = l => l.lock || 'cs';
const fmtSecs = ms => (ms / 1000).toFixed(2) + ' s';
const msgKey = l => `${lockOf(l)}|${l.msg}|${l.from}|${l.to}|${l.lamport}`;

// ---------------------------------------------------------------- the model
// One record per node; per lock: phase, the request it waits with, the votes it holds, the
// vote it gave as a voter, its voter queue, its last token.
const W = {
  config: null, mode: 'replay',
  nodes: new Map(),      // id -> node record
  locks: new Set(['cs']),
  lock: 'cs',            // the lock the picture shows
  entries: [],           // every enter_cs line applied so far (any lock)
  kindsSeen: new Set(),
  lastTs: '',            // timestamp of the last line applied
};

function lockState() {
  return { phase: 'idle', req: null, asked: new Set(), held: new Set(), vote: null, queue: [], token: null, switched: null };
}
function newNode(n) {
  return {
    id: n.id, row: n.row, col: n.col, addr: n.addr,
    quorum: n.quorum || [], baseQuorum: n.quorum || [],
    down: false, why: '', inc: null, proc: null, connected: false,
    suspects: new Set(), locks: new Map(),
  };
}
function L(node, lock) {
  let s = node.locks.get(lock);
  if (!s) { s = lockState(); node.locks.set(lock, s); }
  return s;
}
function resetModel() {
  W.nodes.clear();
  for (const n of W.config.nodes) W.nodes.set(n.id, newNode(n));
  W.entries = [];
  W.lastTs = '';
}
function queueAdd(q, r) {
  if (!q.some(x => sameReq(x, r))) q.push(r);
  // Maekawa's voter queue is ordered by priority: smaller (ts, node) first.
  q.sort((a, b) => a.ts - b.ts || a.node - b.node);
}
const queueDel = (q, r) => { const i = q.findIndex(x => sameReq(x, r)); if (i >= 0) q.splice(i, 1); };

// Apply one line to the model. `live` is true when it should also be animated (a seek or a
// story step rebuilds the model silently). Returns nothing; marks the picture dirty.
function apply(l, live) {
  const node = W.nodes.get(l.node);
  if (typeof l.timestamp === 'string') W.lastTs = l.timestamp;
  if (l.lock) W.locks.add(l.lock);
  if (!node) return;
  const req = l.req_ts !== undefined ? { ts: l.req_ts, node: l.req_node } : null;
  // A line from a node means the watch hears it: the watch_up that said so may have left the
  // server's backlog long ago (it keeps the last lines only).
  if (l.event !== 'watch_down' && l.event !== 'stop') { node.connected = true; node.down = false; }
  switch (l.event) {
    case 'start': {
      node.down = false; node.why = ''; node.connected = true;
      // Live, every reconnection of the watch to a daemon repeats that process's start line:
      // the same process (incarnation and pid) keeps its state.
      const proc = `${l.incarnation}/${l.pid}`;
      if (proc === node.proc) break;
      node.proc = proc;
      // A new process: whatever the old one held in memory is gone.
      node.inc = l.incarnation ?? node.inc;
      if (Array.isArray(l.quorum)) { node.quorum = l.quorum; node.baseQuorum = l.quorum; }
      node.locks = new Map(); node.suspects = new Set();
      // "(ts, node)": the vote for cs its journal kept. It is used only when votes are
      // journaled; with leases (a start line with quiet_ms) it is not (README "Logs", start).
      const m = typeof l.journaled_lock === 'string' && l.journaled_lock.match(/\((\d+), *(\d+)\)/);
      if (m && l.quiet_ms === undefined) L(node, 'cs').vote = { ts: +m[1], node: +m[2] };
      if (live && (l.incarnation || 1) > 1)
        note(node.id, `back: incarnation ${l.incarnation}` + (l.quiet_ms ? `, quiet ${l.quiet_ms / 1000} s` : ''), '#1a7f3c');
      break;
    }
    case 'stop': node.down = true; node.why = 'stopped'; break;
    case 'watch_down':
      node.down = true; node.why = l.why || 'down'; node.connected = false;
      if (live) note(node.id, 'down' + (l.why ? `: ${shortWhy(l.why)}` : ''), '#b3261e');
      break;
    case 'watch_up': node.connected = true; node.down = false; node.why = ''; break;
    case 'request_cs': {
      const s = L(node, lockOf(l));
      s.phase = 'wanting'; s.req = req; s.asked = new Set(); s.held = new Set(); s.switched = null;
      break;
    }
    case 'enter_cs': {
      const s = L(node, lockOf(l));
      s.phase = 'in-cs'; s.req = req || s.req;
      if (Array.isArray(l.votes)) s.held = new Set(l.votes);
      if (l.token !== undefined) s.token = l.token;
      W.entries.push(l);
      break;
    }
    case 'exit_cs': case 'cancel_cs': case 'lease_expired': {
      const s = L(node, lockOf(l));
      s.phase = 'idle'; s.req = null; s.held = new Set(); s.asked = new Set(); s.switched = null;
      if (live && l.event !== 'exit_cs') note(node.id, l.event === 'cancel_cs' ? 'cancelled' : 'lease expired', '#b3261e');
      break;
    }
    case 'send': {
      W.kindsSeen.add(l.msg);
      const s = L(node, lockOf(l));
      if (l.msg === 'Grant') {              // this voter gives its vote to the request
        s.vote = req; if (req) queueDel(s.queue, req);
      } else if (l.msg === 'Request' && s.req && sameReq(s.req, req)) {
        s.asked.add(l.to);                  // the quorum this request asks
      } else if (l.msg === 'Yield') {
        s.held.delete(l.to);                // the requester gives that vote back
      }
      if (live) launch(l);
      break;
    }
    case 'recv': {
      W.kindsSeen.add(l.msg);
      const s = L(node, lockOf(l));
      if (l.msg === 'Request' && req) {
        if (!sameReq(s.vote, req)) queueAdd(s.queue, req);
      } else if (l.msg === 'Release' && req) {
        if (sameReq(s.vote, req)) s.vote = null;     // the vote comes back
        queueDel(s.queue, req);                       // or a cancelled request leaves the queue
      } else if (l.msg === 'Yield' && req) {
        if (sameReq(s.vote, req)) { s.vote = null; queueAdd(s.queue, req); } // back in line
      } else if (l.msg === 'Grant' && s.req && sameReq(s.req, req)) {
        s.held.add(l.from);
      } else if (l.msg === 'Revoked') {
        s.held.delete(l.from);
      }
      land(l);
      break;
    }
    case 'revote': {
      const s = L(node, lockOf(l));
      if (req) {
        if (l.what === 'freed' || l.what === 'reclaimed') { if (sameReq(s.vote, req)) s.vote = null; }
        else if (l.what === 'dropped') queueDel(s.queue, req);
        else if (l.what === 'requeued') queueAdd(s.queue, req);
        else if (l.what === 'regranted') { s.vote = req; queueDel(s.queue, req); }
      }
      if (live) note(node.id, `revote: ${l.what} ${reqStr(req)}`, '#8e44ad');
      break;
    }
    case 'suspect': node.suspects.add(l.peer); break;
    case 'unsuspect': node.suspects.delete(l.peer); break;
    case 'quorum_switch': {
      const s = L(node, lockOf(l));
      s.switched = l.to_quorum || null;
      if (live) note(node.id, `quorum → {${(l.to_quorum || []).join(', ')}}`, '#f08c00');
      break;
    }
  }
  dirty = true;
}

// Why a node is down, short enough for its card (the feed and the tooltip have it whole).
const shortWhy = w => !w ? '' : w.length > 24 ? w.slice(0, 22) + '…' : w;

// The phase the picture shows for a node (also the test hook's data-state).
function stateOf(node) {
  return node.down ? 'down' : L(node, W.lock).phase;
}

// window.maekawaWatch: the browser test's view of the model (watch-spec.md, "Test hooks").
function publish() {
  const nodes = {};
  for (const n of W.nodes.values()) {
    const s = L(n, W.lock);
    nodes[n.id] = {
      state: stateOf(n), vote: s.vote ? { ...s.vote } : null,
      queue: s.queue.map(r => ({ ...r })), token: s.token,
    };
  }
  window.maekawaWatch.mode = W.mode;
  window.maekawaWatch.lock = W.lock;
  window.maekawaWatch.entries = W.entries;
  window.maekawaWatch.nodes = nodes;
}
window.maekawaWatch = { mode: null, entries: [], nodes: {} };

// The picture is redrawn on the next frame after any change.
let dirty = true;

// ---------------------------------------------------------------- the feed (side panel)
// Only the lines a reader follows; send/recv would drown the rest.
function describe(l) {
  const r = l.req_ts !== undefined ? ` ${reqStr({ ts: l.req_ts, node: l.req_node })}` : '';
  const lk = l.lock && l.lock !== 'cs' ? ` [${l.lock}]` : '';
  switch (l.event) {
    case 'start': return [`node ${l.node} started (incarnation ${l.incarnation})`, 'good'];
    case 'stop': return [`node ${l.node} stopped`, ''];
    case 'watch_down': return [`node ${l.node} down${l.why ? ': ' + l.why : ''}`, 'bad'];
    case 'watch_up': return null;
    case 'watch_dropped': return [`the watch dropped ${l.lines} lines (this page read too slowly): the picture may be off until the next entries`, 'bad'];
    case 'request_cs': return [`node ${l.node} wants the lock${r}${lk}`, ''];
    case 'enter_cs': return [`node ${l.node} enters${l.entry ? ' (entry ' + l.entry + ')' : ''}${lk}, votes ${(l.votes || []).join(', ')}, token ${l.token ?? '–'}`, 'good'];
    case 'exit_cs': return [`node ${l.node} leaves${lk}`, ''];
    case 'cancel_cs': return [`node ${l.node} cancels${r}${lk}`, 'bad'];
    case 'lease_expired': return [`node ${l.node}: lease expired${lk}`, 'bad'];
    case 'suspect': return [`node ${l.node} suspects ${l.peer} (silent ${l.silent_ms} ms)`, 'bad'];
    case 'unsuspect': return [`node ${l.node} hears ${l.peer} again`, 'good'];
    case 'quorum_switch': return [`node ${l.node} switches quorum {${(l.from_quorum || []).join(', ')}} → {${(l.to_quorum || []).join(', ')}}${lk}`, 'bad'];
    case 'revote': return [`voter ${l.node} re-votes: ${l.what}${r}${lk} — ${l.why || ''}`, ''];
    // Every link's first contact says incarnation 1; only a later one means a restart.
    case 'peer_incarnation': return l.incarnation > 1 ? [`node ${l.node} meets incarnation ${l.incarnation} of ${l.peer}: re-voting`, ''] : null;
    case 'send':
      if (l.msg === 'Inquire' || l.msg === 'Yield' || l.msg === 'Revoked')
        return [`${l.msg} ${l.from} → ${l.to}${r}${lk}`, ''];
      return null;
    default: return null;
  }
}
