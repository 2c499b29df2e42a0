// maekawa watch: the page. Plain JS, no framework and no build step, because the three files
// are embedded in the binary as they are (src/watch/page/) and must work with no network.
//
// The page keeps a model of every node, derived only from the node-log lines it is given
// (README "Logs"), and draws it as SVG:
//   live   — lines arrive over Server-Sent Events (/api/events);
//   replay — the whole run comes from /api/log and a clock walks through it.
// Both feed the same queue and the same apply(line); only who fills the queue differs.
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';

// Geometry of the picture, in SVG units (the svg scales to fit its box). A cell is one place
// of the grid; the card inside it leaves room for messages to travel between cards. Small
// grids get wider gaps (room for arrows and their labels); a 5×5 grid keeps them narrow so
// that its text stays legible once the svg is scaled to the page (buildBoard).
const CARD_W = 178, CARD_H = 112;
let CELL_W = 226, CELL_H = 156;
const LEFT = 62, TOP = 72, RIGHT = 18;

// One colour per message kind (legend). Picked to stay apart for the common kinds.
const KINDS = {
  Request: '#2563eb', Grant: '#1a9e48', Failed: '#d62728', Inquire: '#f08c00',
  Yield: '#8e44ad', Release: '#0fa3b1', Fence: '#8c564b', Fenced: '#d4589f',
  Revoked: '#7a0019', Sync: '#9c9a00', Resync: '#6b6a00', Floor: '#7b8794', Config: '#3e4c59',
};
const ALWAYS_IN_LEGEND = ['Request', 'Grant', 'Failed', 'Inquire', 'Yield', 'Release'];
const kindColour = k => KINDS[k] || '#52606d';

// ---------------------------------------------------------------- small helpers
const $ = id => document.getElementById(id);
function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
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
    down: false, why: '', inc: null, connected: false,
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
  switch (l.event) {
    case 'start': {
      // A new process: whatever the old one held in memory is gone.
      node.down = false; node.why = ''; node.connected = true;
      node.inc = l.incarnation ?? node.inc;
      if (Array.isArray(l.quorum)) { node.quorum = l.quorum; node.baseQuorum = l.quorum; }
      node.locks = new Map(); node.suspects = new Set();
      // "(ts, node)": the vote for cs its journal kept.
      const m = typeof l.journaled_lock === 'string' && l.journaled_lock.match(/\((\d+), *(\d+)\)/);
      if (m) L(node, 'cs').vote = { ts: +m[1], node: +m[2] };
      if (live && (l.incarnation || 1) > 1) note(node.id, `back: incarnation ${l.incarnation}`, '#1a7f3c');
      break;
    }
    case 'stop': node.down = true; node.why = 'stopped'; break;
    case 'watch_down':
      node.down = true; node.why = l.why || 'down'; node.connected = false;
      if (live) note(node.id, 'down' + (l.why ? `: ${l.why}` : ''), '#b3261e');
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
let feedCount = 0;
function feed(l) {
  const d = describe(l);
  if (!d) return;
  const li = document.createElement('li');
  li.innerHTML = `<span class="t"></span><span></span>`;
  li.firstChild.textContent = clockOf(l.timestamp);
  li.lastChild.textContent = d[0];
  if (d[1]) li.lastChild.className = d[1];
  const ol = $('feed');
  ol.insertBefore(li, ol.firstChild);
  while (ol.childNodes.length > 60) ol.removeChild(ol.lastChild); // a window, not a log
  feedCount++;
}
function clearFeed() { $('feed').textContent = ''; feedCount = 0; }

// ---------------------------------------------------------------- the picture
let dirty = true;
const G = {};          // svg layers and per-node elements
let boardW = 0, boardH = 0, gridH = 0;

function centre(id) {
  const n = W.nodes.get(id);
  return { x: LEFT + n.col * CELL_W + CELL_W / 2, y: TOP + n.row * CELL_H + CELL_H / 2 };
}

// The path between two cards: from the edge of one to the edge of the other, bent a little
// so that A→B and B→A do not overlap and a message along a row does not cross the card in
// between. Returns the quadratic Bézier's three points.
function route(from, to, bend = 0.18) {
  const a = centre(from), b = centre(to);
  const dx = b.x - a.x, dy = b.y - a.y, d = Math.hypot(dx, dy) || 1;
  const ux = dx / d, uy = dy / d;
  const edge = (hw, hh) => Math.min(hw / Math.max(Math.abs(ux), 1e-6), hh / Math.max(Math.abs(uy), 1e-6));
  const e = edge(CARD_W / 2 + 3, CARD_H / 2 + 3);
  const p0 = { x: a.x + ux * e, y: a.y + uy * e }, p2 = { x: b.x - ux * e, y: b.y - uy * e };
  // Longer hops bend more, so that they clear the cards they pass.
  const k = bend * d * (d > CELL_W * 1.5 || d > CELL_H * 1.5 ? 1.4 : 1);
  const p1 = { x: (p0.x + p2.x) / 2 - uy * k * 0.5, y: (p0.y + p2.y) / 2 + ux * k * 0.5 };
  return [p0, p1, p2];
}
const bez = ([p0, p1, p2], t) => ({
  x: (1 - t) * (1 - t) * p0.x + 2 * (1 - t) * t * p1.x + t * t * p2.x,
  y: (1 - t) * (1 - t) * p0.y + 2 * (1 - t) * t * p1.y + t * t * p2.y,
});
const pathD = ([p0, p1, p2]) => `M${p0.x.toFixed(1)},${p0.y.toFixed(1)} Q${p1.x.toFixed(1)},${p1.y.toFixed(1)} ${p2.x.toFixed(1)},${p2.y.toFixed(1)}`;

function buildBoard() {
  const svg = $('board');
  svg.textContent = '';
  const { rows, cols } = W.config;
  CELL_W = CARD_W + (cols <= 2 ? 130 : cols <= 3 ? 96 : 48);
  CELL_H = CARD_H + (rows <= 2 ? 96 : rows <= 3 ? 76 : 44);
  boardW = LEFT + cols * CELL_W + RIGHT;
  gridH = TOP + rows * CELL_H;

  const defs = el('defs', {}, svg);
  // A down node is hatched as well as grey: it reads as "off" even printed in black and white.
  const pat = el('pattern', { id: 'hatch', width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, defs);
  el('rect', { width: 8, height: 8, fill: '#eceff2' }, pat);
  el('line', { x1: 0, y1: 0, x2: 0, y2: 8, stroke: '#d3d8de', 'stroke-width': 3 }, pat);
  for (const [k, c] of Object.entries(KINDS).concat([['vote', '#1a7f3c']])) {
    const m = el('marker', { id: 'arr-' + k, viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse' }, defs);
    m.setAttribute('markerWidth', 11); m.setAttribute('markerHeight', 11);
    el('path', { d: 'M0,0 L10,5 L0,10 z', fill: c }, m);
  }

  el('rect', { x: 0, y: 0, width: '100%', height: '100%', fill: '#fff' }, svg); // exports need a background
  G.title = el('text', { x: 14, y: 24, class: 'title' }, svg);
  G.sub = el('text', { x: 14, y: 43, class: 'subtitle' }, svg);

  // Row and column labels: the grid is the quorum system (a node's quorum is its row and column).
  for (let c = 0; c < cols; c++) {
    const t = el('text', { x: LEFT + c * CELL_W + CELL_W / 2, y: TOP - 8, class: 'axis', 'text-anchor': 'middle' }, svg);
    t.textContent = `col ${c}`;
  }
  for (let r = 0; r < rows; r++) {
    const t = el('text', { x: LEFT - 10, y: TOP + r * CELL_H + CELL_H / 2 + 4, class: 'axis', 'text-anchor': 'end' }, svg);
    t.textContent = `row ${r}`;
  }
  for (let c = 1; c < cols; c++) el('line', { x1: LEFT + c * CELL_W, y1: TOP, x2: LEFT + c * CELL_W, y2: gridH, class: 'gridline' }, svg);
  for (let r = 1; r < rows; r++) el('line', { x1: LEFT, y1: TOP + r * CELL_H, x2: LEFT + cols * CELL_W, y2: TOP + r * CELL_H, class: 'gridline' }, svg);

  G.votes = el('g', { class: 'votes' }, svg);
  G.nodes = el('g', {}, svg);
  G.per = new Map();
  for (const n of W.nodes.values()) {
    const c = centre(n.id);
    const x = c.x - CARD_W / 2, y = c.y - CARD_H / 2;
    const g = el('g', { class: 'node', 'data-node': n.id, 'data-state': 'idle' }, G.nodes);
    el('rect', { x: x - 6, y: y - 6, width: CARD_W + 12, height: CARD_H + 12, rx: 14, class: 'glow' }, g);
    el('rect', { x: x - 4, y: y - 4, width: CARD_W + 8, height: CARD_H + 8, rx: 13, class: 'halo' }, g);
    el('rect', { x, y, width: CARD_W, height: CARD_H, rx: 10, class: 'card' }, g);
    const name = el('text', { x: x + 10, y: y + 24, class: 'name' }, g);
    name.textContent = `node ${n.id}`;
    const pill = el('rect', { x: x + CARD_W - 74, y: y + 8, width: 66, height: 20, rx: 10, class: 'pill' }, g);
    const pillText = el('text', { x: x + CARD_W - 41, y: y + 22, class: 'pilltext', 'text-anchor': 'middle' }, g);
    const l1 = el('text', { x: x + 10, y: y + 46, class: 'line' }, g);
    const l2 = el('text', { x: x + 10, y: y + 64, class: 'line' }, g);
    const l3 = el('text', { x: x + 10, y: y + 82, class: 'line' }, g);
    const l4 = el('text', { x: x + 10, y: y + 101, class: 'small' }, g);
    const tip = el('title', {}, g);
    g.addEventListener('click', () => { selected = selected === n.id ? null : n.id; dirty = true; });
    G.per.set(n.id, { g, pill, pillText, l1, l2, l3, l4, tip });
  }
  G.flights = el('g', { class: 'flights' }, svg);
  G.story = el('g', { class: 'storylayer' }, svg);
  G.notes = el('g', { class: 'notes' }, svg);
  G.legend = el('g', { class: 'legend' }, svg);
  drawLegend();
}

// The legend lives inside the svg so that an exported frame explains itself.
let legendKinds = '';
function drawLegend() {
  const kinds = ALWAYS_IN_LEGEND.concat([...W.kindsSeen].filter(k => !ALWAYS_IN_LEGEND.includes(k)).sort());
  const key = kinds.join(',');
  if (key === legendKinds && boardH) return;
  legendKinds = key;
  const g = G.legend; g.textContent = '';
  const x0 = 14, usable = boardW - 28;
  let y = gridH + 22;
  const items = [
    ['head', 'nodes'],
    ['state', 'idle', '#f5f7fa', '#9aa5b1'], ['state', 'wanting', '#fff5d6', '#d99a00'],
    ['state', 'in CS', '#dcf5e3', '#1a7f3c'], ['state', 'down', 'url(#hatch)', '#7b8794'],
    ['state', 'suspected', '#f5f7fa', '#b3261e'], ['vote', 'vote given'],
    ['break'], ['head', 'messages'],
    ...kinds.map(k => ['kind', k]),
  ];
  const box = el('rect', { x: 6, y: gridH + 4, width: boardW - 12, height: 10, rx: 8, class: 'legendbox' }, g);
  let x = x0;
  const W_ITEM = 96, W_HEAD = 78;
  for (const it of items) {
    if (it[0] === 'break') { x = x0; y += 24; continue; }
    const w = it[0] === 'head' ? W_HEAD : (it[0] === 'vote' ? 104 : W_ITEM);
    if (x + w > x0 + usable) { x = x0 + W_HEAD; y += 22; }
    if (it[0] === 'head') {
      const t = el('text', { x, y: y + 4, class: 'head' }, g); t.textContent = it[1];
    } else if (it[0] === 'state') {
      el('rect', { x, y: y - 8, width: 18, height: 14, rx: 3, fill: it[2], stroke: it[3], 'stroke-width': 2, 'stroke-dasharray': it[1] === 'down' ? '4 2' : (it[1] === 'suspected' ? '3 2' : 'none') }, g);
      const t = el('text', { x: x + 24, y: y + 4 }, g); t.textContent = it[1];
    } else if (it[0] === 'vote') {
      el('path', { d: `M${x},${y} L${x + 24},${y}`, class: 'vote', 'marker-end': 'url(#arr-vote)' }, g);
      const t = el('text', { x: x + 30, y: y + 4 }, g); t.textContent = it[1];
    } else {
      el('line', { x1: x, y1: y, x2: x + 14, y2: y, stroke: kindColour(it[1]), 'stroke-width': 3 }, g);
      el('circle', { cx: x + 16, cy: y, r: 5, fill: kindColour(it[1]), class: 'dot' }, g);
      const t = el('text', { x: x + 26, y: y + 4 }, g); t.textContent = it[1];
    }
    x += w;
  }
  boardH = y + 18;
  box.setAttribute('height', boardH - gridH - 8);
  const svg = $('board');
  svg.setAttribute('viewBox', `0 0 ${boardW} ${boardH}`);
  // Small grids would be blown up to fill the page; cap the zoom so text stays text-sized.
  svg.style.maxWidth = Math.round(boardW * 1.7) + 'px';
}

let selected = null;   // clicked node: its quorum is outlined

function renderNodes() {
  const sel = selected !== null ? W.nodes.get(selected) : null;
  const selQuorum = sel ? new Set(L(sel, W.lock).switched || sel.quorum) : new Set();
  const suspected = new Map();
  for (const n of W.nodes.values()) if (!n.down) for (const p of n.suspects) {
    if (!suspected.has(p)) suspected.set(p, []);
    suspected.get(p).push(n.id);
  }
  for (const n of W.nodes.values()) {
    const e = G.per.get(n.id), s = L(n, W.lock), st = stateOf(n);
    e.g.setAttribute('data-state', st);
    e.g.classList.toggle('suspected', suspected.has(n.id) && st !== 'down');
    e.g.classList.toggle('selected', selected === n.id);
    e.g.classList.toggle('inquorum', selQuorum.has(n.id) && selected !== n.id);
    e.g.classList.toggle('csglow', st === 'in-cs');
    e.pillText.textContent = st === 'in-cs' ? 'in CS' : st;
    // Line 1: the requester's side: what it waits with, or holds.
    if (st === 'down') e.l1.textContent = (n.why ? `(${n.why})` : '') + (suspected.has(n.id) ? ` suspected by ${suspected.get(n.id).join(',')}` : '');
    else if (s.phase === 'wanting') e.l1.textContent = `wants ${reqStr(s.req)}: ${s.held.size}/${s.asked.size || '?'} votes`;
    else if (s.phase === 'in-cs') e.l1.textContent = `holds ${reqStr(s.req)}`;
    else e.l1.textContent = 'no request';
    // Line 2: the voter's side: whose request its vote is given to.
    e.l2.textContent = s.vote ? `vote → ${s.vote.node}  ${reqStr(s.vote)}` : 'vote: free';
    // Line 3: the voter queue (requesters by priority; the full requests in the tooltip).
    const q = s.queue.map(r => r.node);
    e.l3.textContent = 'queue: ' + (q.length ? (q.length > 6 ? q.slice(0, 6).join(', ') + ` +${q.length - 6}` : q.join(', ')) : '—');
    // Line 4: token, and what is unusual (suspicions, a switched quorum).
    let warn = '';
    if (s.switched) warn = `quorum {${s.switched.join(',')}}`;
    if (n.suspects.size && !n.down) warn = (warn ? warn + ' · ' : '') + `suspects ${[...n.suspects].join(',')}`;
    e.l4.textContent = `token ${s.token ?? '–'}${n.inc > 1 ? ` · inc ${n.inc}` : ''}${warn ? ' · ' + warn : ''}`;
    e.l4.setAttribute('class', warn ? 'warn' : 'small');
    e.tip.textContent = `node ${n.id} ${n.addr || ''}\nquorum {${n.quorum.join(', ')}}` +
      (s.switched ? `, switched to {${s.switched.join(', ')}}` : '') +
      `\nvote: ${s.vote ? reqStr(s.vote) : 'free'}\nqueue: ${s.queue.map(reqStr).join(' ') || '—'}` +
      (suspected.has(n.id) ? `\nsuspected by ${suspected.get(n.id).join(', ')}` : '');
  }
  // Vote lines: from each voter to the requester holding its vote. A node's own vote is
  // left out (it would be a loop on itself); the card says it.
  G.votes.textContent = '';
  for (const n of W.nodes.values()) {
    const s = L(n, W.lock);
    if (!s.vote || s.vote.node === n.id || !W.nodes.has(s.vote.node)) continue;
    el('path', { d: pathD(route(n.id, s.vote.node, -0.1)), class: 'vote', 'marker-end': 'url(#arr-vote)' }, G.votes);
  }
  const when = W.lastTs ? W.lastTs.replace('T', ' ').slice(0, 23) : '';
  G.title.textContent = `maekawa · ${W.nodes.size} nodes · lock ${W.lock}`;
  const holders = [...W.nodes.values()].filter(n => stateOf(n) === 'in-cs').map(n => n.id);
  G.sub.textContent = `${when}${when ? ' UTC · ' : ''}${W.entries.length} entries · ` +
    (holders.length ? `in the CS: node ${holders.join(', ')}` : 'CS free');
  $('board').setAttribute('data-entries', String(W.entries.length));
  drawLegend();
  publish();
}

// ---------------------------------------------------------------- messages in flight
// A send starts a dot at the sender; its recv lets it land. The dot takes FLIGHT_MS of wall
// time whatever the real latency (often microseconds), so that it can be seen at all.
let flights = [];      // {key, kind, path, born, landed, el...}
let pulses = [];
let notes = [];
let anim = 0;          // animation clock (ms): runs while playing, stops while paused
let flightMs = 650;

function launch(l) {
  if (l.msg === undefined || !W.nodes.has(l.from) || !W.nodes.has(l.to)) return;
  if (l.lock && l.lock !== W.lock) return;            // only the lock on show
  const colour = kindColour(l.msg);
  if (l.from === l.to) {                              // to itself: a ring, not a trip
    const c = centre(l.from);
    pulses.push({ born: anim, el: el('circle', { cx: c.x + CARD_W / 2 - 12, cy: c.y + CARD_H / 2 - 12, r: 4, class: 'pulse', stroke: colour }, G.flights) });
    return;
  }
  const path = route(l.from, l.to);
  const g = el('g', {}, G.flights);
  const trail = el('path', { class: 'flight', stroke: colour }, g);
  const dot = el('circle', { r: 7, fill: colour, class: 'dot' }, g);
  let label = null;
  // Labels help with few nodes; with many they would cover the cards.
  if (W.nodes.size <= 9) { label = el('text', { class: 'dotlabel', fill: colour }, g); label.textContent = l.msg; }
  flights.push({ key: msgKey(l), path, born: anim, landed: null, g, trail, dot, label });
}
function land(l) {
  const k = msgKey(l);
  const f = flights.find(f => f.key === k && f.landed === null);
  if (f) f.landed = anim;
}
// Has the flight of this recv line not arrived yet? (Then the picture waits for it.)
function inAir(l) {
  const k = msgKey(l);
  return flights.some(f => f.key === k && f.landed === null && anim - f.born < flightMs);
}
function note(id, text, colour) {
  if (!W.nodes.has(id)) return;
  notes = notes.filter(n => { if (n.id === id) { n.g.remove(); return false; } return true; });
  const c = centre(id);
  const g = el('g', { class: 'note' }, G.notes);
  const t = el('text', { x: c.x, y: c.y - CARD_H / 2 - 6, 'text-anchor': 'middle' }, g);
  t.textContent = text;
  const w = Math.min(CELL_W + 20, 12 + text.length * 6.6);
  const r = el('rect', { x: c.x - w / 2, y: c.y - CARD_H / 2 - 20, width: w, height: 19, rx: 9 }, g);
  r.style.fill = colour;
  g.insertBefore(r, t);
  notes.push({ id, g, born: anim });
}
function clearFlights() {
  flights = []; pulses = []; notes = [];
  if (G.flights) { G.flights.textContent = ''; G.notes.textContent = ''; }
}
function renderFlights() {
  flights = flights.filter(f => {
    let p = (anim - f.born) / flightMs;
    // Not received yet: wait short of the receiver; a message never received fades there.
    if (f.landed === null) {
      if (anim - f.born > flightMs * 6) { f.g.remove(); return false; }
      p = Math.min(p, 0.88);
    }
    if (p >= 1) {
      const fade = 1 - (anim - f.born - flightMs) / 160;
      if (fade <= 0) { f.g.remove(); return false; }
      f.g.setAttribute('opacity', fade.toFixed(2));
      p = 1;
    }
    const ease = p < 0.5 ? 2 * p * p : 1 - Math.pow(-2 * p + 2, 2) / 2;
    const a = bez(f.path, Math.max(0, ease - 0.22)), b = bez(f.path, ease);
    f.trail.setAttribute('d', `M${a.x.toFixed(1)},${a.y.toFixed(1)} L${b.x.toFixed(1)},${b.y.toFixed(1)}`);
    f.dot.setAttribute('cx', b.x.toFixed(1)); f.dot.setAttribute('cy', b.y.toFixed(1));
    if (f.label) {
      // The name shows on the way, not at either end, where it would cover a card's text.
      f.label.setAttribute('x', (b.x + 9).toFixed(1)); f.label.setAttribute('y', (b.y - 8).toFixed(1));
      f.label.setAttribute('opacity', Math.max(0, Math.min(1, (ease - 0.08) * 8, (0.8 - ease) * 8)).toFixed(2));
    }
    return true;
  });
  pulses = pulses.filter(p => {
    const t = (anim - p.born) / 500;
    if (t >= 1) { p.el.remove(); return false; }
    p.el.setAttribute('r', (4 + 14 * t).toFixed(1));
    p.el.setAttribute('opacity', (1 - t).toFixed(2));
    return true;
  });
  notes = notes.filter(n => {
    const t = (anim - n.born) / 2600;
    if (t >= 1) { n.g.remove(); return false; }
    n.g.setAttribute('opacity', t < 0.8 ? 1 : ((1 - t) / 0.2).toFixed(2));
    return true;
  });
}

// ---------------------------------------------------------------- the clock
// `queue` holds lines not applied yet. Replay fills it from the run; live from the stream.
// A recv waits at the head of the queue while its message is still drawn in the air, so the
// picture never shows an effect before its cause (a Grant lands, then the node enters).
let log = [];          // replay: every line of the run, with ._t (ms)
let cursor = 0;        // replay: log[0..cursor) applied
let tNow = 0;          // replay: the clock, in ms of the run
let t0 = 0, tEnd = 0;
let playing = false, speed = 1;
const liveQueue = [];  // live: {line, at} not applied yet
const LIVE_MAX_WAIT = 600; // live: no line waits longer than this for its dot (test: < 1 s)

function step(dt) {
  if (W.mode === 'replay') {
    if (!playing || story) return;
    let target = tNow + dt * speed;
    while (cursor < log.length && log[cursor]._t <= target) {
      const l = log[cursor];
      if (l.event === 'recv' && inAir(l)) { target = l._t; break; }
      apply(l, true); feed(l); cursor++;
    }
    tNow = Math.max(tNow, Math.min(target, tEnd));
    if (cursor >= log.length) { tNow = tEnd; setPlaying(false); }
  } else {
    const wall = performance.now();
    while (liveQueue.length) {
      const { line, at } = liveQueue[0];
      if (line.event === 'recv' && inAir(line) && wall - at < LIVE_MAX_WAIT) break;
      liveQueue.shift();
      apply(line, true); feed(line);
    }
  }
}

let lastFrame = 0, lastStatus = 0;
function frame(now) {
  const dt = lastFrame ? Math.min(now - lastFrame, 100) : 0;
  lastFrame = now;
  if (W.mode === 'live' || (playing && !story)) anim += dt;
  step(dt);
  if (dirty) { renderNodes(); dirty = false; }
  renderFlights();
  if (now - lastStatus > 100) { updateStatus(); lastStatus = now; }
  requestAnimationFrame(frame);
}

function updateStatus() {
  if (W.mode === 'live') {
    const conn = [...W.nodes.values()].filter(n => n.connected && !n.down).length;
    $('status').textContent = `live: ${W.nodes.size} nodes, ${conn} connected` + (streamOk ? '' : ' (stream lost, retrying)');
  } else {
    $('status').textContent = `replay: ${fmtSecs(tNow - t0)} / ${fmtSecs(tEnd - t0)}`;
    if (!dragging) $('slider').value = tEnd > t0 ? Math.round((tNow - t0) / (tEnd - t0) * 1000) : 0;
  }
}

// Seek = rebuild the model from the start of the run (watch-spec.md), silently.
function seekIndex(n) {
  resetModel(); clearFlights(); clearFeed();
  cursor = 0;
  // Feed only the last lines before the point; the model needs them all.
  const feedFrom = Math.max(0, n - 400);
  while (cursor < n && cursor < log.length) {
    apply(log[cursor], false);
    if (cursor >= feedFrom) feed(log[cursor]);
    cursor++;
  }
  tNow = cursor > 0 ? log[cursor - 1]._t : t0;
  dirty = true;
}
function seekTime(t) {
  let n = 0;
  while (n < log.length && log[n]._t <= t) n++;
  seekIndex(n);
  tNow = t;
}
function setPlaying(p) {
  playing = p && W.mode === 'replay';
  $('play').textContent = playing ? '❚❚' : '▶';
  if (playing && cursor >= log.length) seekTime(t0); // play again from the start
}

// ---------------------------------------------------------------- step through an entry
// A story (/api/story) lists the lines that led node X into entry K, in causal order. A step
// shows the model as it was right after that step's line, the story's messages so far as
// numbered arrows (the current one bold), and the step's note.
let story = null;      // {data, at, index: [log index of each step]}

function findLine(st) {
  // The story names a line by node, event, its clock time (HH:MM:SS.micro) and, for a
  // message, msg/from/to/lamport; that is unique in a run.
  let best = -1;
  for (let i = 0; i < log.length; i++) {
    const l = log[i];
    if (l.node !== st.node || l.event !== st.event) continue;
    if (st.msg !== undefined && (l.msg !== st.msg || l.from !== st.from || l.to !== st.to || l.lamport !== st.lamport)) continue;
    if (st.time && l.timestamp.slice(11, 11 + st.time.length) === st.time) return i;
    if (best < 0) best = i;
  }
  return best;
}
async function loadStory() {
  const v = $('entry').value;
  if (!v) return;
  const [node, entry] = v.split(':');
  const data = await getJSON(`/api/story?node=${node}&entry=${entry}`);
  const index = data.steps.map(findLine);
  story = { data, at: 0, index };
  setPlaying(false);
  $('story-head').textContent = data.headline || `node ${data.node}, entry ${data.entry}`;
  const ol = $('steps'); ol.textContent = '';
  data.steps.forEach((st, i) => {
    const li = document.createElement('li');
    const what = st.msg ? `${st.msg} ${st.from}→${st.to}` : st.event;
    li.innerHTML = '<span class="t"></span><span class="k"></span><span></span>';
    li.children[0].textContent = st.n;
    li.children[1].textContent = what;
    li.children[1].style.color = st.msg ? kindColour(st.msg) : '';
    li.children[2].textContent = st.note || '';
    if (st.stands_out) li.classList.add('odd');   // a detour or a surprise: report marks it too
    li.addEventListener('click', () => showStep(i));
    ol.appendChild(li);
  });
  for (const id of ['step-prev', 'step-next', 'story-clip', 'story-close']) $(id).disabled = false;
  showStep(0);
}
function drawStory(k) {
  G.story.textContent = '';
  if (!story) return;
  const steps = story.data.steps;
  // Arrows of the messages up to this step (a send and its recv are one arrow).
  const seen = new Map();
  for (let i = 0; i <= k; i++) {
    const st = steps[i];
    if (st.msg === undefined) continue;
    const key = `${st.msg}|${st.from}|${st.to}|${st.lamport}`;
    seen.set(key, { st, i, now: i === k });
  }
  for (const { st, i, now } of seen.values()) {
    if (!W.nodes.has(st.from) || !W.nodes.has(st.to)) continue;
    const colour = kindColour(st.msg);
    if (st.from === st.to) {
      const c = centre(st.from);
      el('circle', { cx: c.x + CARD_W / 2 - 14, cy: c.y + CARD_H / 2 - 14, r: now ? 11 : 8, class: 'story' + (now ? ' now' : ''), stroke: colour }, G.story);
      if (now) { const t = el('text', { x: c.x + CARD_W / 2 - 30, y: c.y + CARD_H / 2 + 14, class: 'storynum', fill: colour, 'text-anchor': 'middle' }, G.story); t.textContent = `${st.n}. ${st.msg} (to itself)`; }
      continue;
    }
    const p = route(st.from, st.to);
    el('path', { d: pathD(p), class: 'story' + (now ? ' now' : ''), stroke: colour, 'marker-end': `url(#arr-${st.msg in KINDS ? st.msg : 'Request'})` }, G.story);
    const m = bez(p, 0.5);
    const t = el('text', { x: m.x, y: m.y - 6, class: 'storynum', fill: colour, 'text-anchor': 'middle', opacity: now ? 1 : 0.6 }, G.story);
    t.textContent = now ? `${st.n}. ${st.msg}` : `${st.n}`;
  }
  const cur = steps[k];
  if (cur && cur.msg === undefined && W.nodes.has(cur.node)) {
    const c = centre(cur.node);
    el('rect', { x: c.x - CARD_W / 2 - 5, y: c.y - CARD_H / 2 - 5, width: CARD_W + 10, height: CARD_H + 10, rx: 13, class: 'story now', stroke: '#f08c00' }, G.story);
  }
}
function showStep(k) {
  if (!story) return;
  const steps = story.data.steps;
  k = Math.max(0, Math.min(steps.length - 1, k));
  story.at = k;
  // The model right after the latest log line among the steps so far (story order is
  // causal, not by time, so take the furthest).
  let upto = -1;
  for (let i = 0; i <= k; i++) upto = Math.max(upto, story.index[i]);
  seekIndex(upto + 1);
  clearFlights();
  renderNodes(); dirty = false;
  drawStory(k);
  const st = steps[k];
  const cap = $('caption');
  cap.hidden = false;
  cap.innerHTML = '<b></b><span></span>';
  cap.firstChild.textContent = `step ${st.n} of ${steps.length} · ${st.time}`;
  cap.lastChild.textContent = (st.msg ? `${st.msg} ${st.from} → ${st.to} (${st.event}): ` : `${st.event}: `) + (st.note || '');
  $('step-pos').textContent = `${k + 1} / ${steps.length}`;
  [...$('steps').children].forEach((li, i) => { li.className = i === k ? 'now' : (i < k ? 'past' : ''); });
  const li = $('steps').children[k];
  if (li) li.scrollIntoView({ block: 'nearest' });
  updateStatus();
}
function closeStory() {
  story = null;
  G.story.textContent = '';
  $('caption').hidden = true;
  $('steps').textContent = ''; $('story-head').textContent = ''; $('step-pos').textContent = '';
  for (const id of ['step-prev', 'step-next', 'story-clip', 'story-close']) $(id).disabled = true;
}

// ---------------------------------------------------------------- export
// The board's CSS rules (those naming #board in style.css) go into the exported file, so the
// SVG and the PNG look as on screen without the page.
function boardStyle() {
  const rules = [];
  for (const sheet of document.styleSheets) {
    let list; try { list = sheet.cssRules; } catch { continue; }
    for (const r of list) if (r.selectorText && r.selectorText.includes('#board')) rules.push(r.cssText);
  }
  return rules.join('\n');
}
function svgText() {
  const svg = $('board').cloneNode(true);
  svg.removeAttribute('style');
  svg.setAttribute('width', boardW); svg.setAttribute('height', boardH);
  const style = document.createElementNS(SVGNS, 'style');
  style.textContent = boardStyle();
  svg.insertBefore(style, svg.firstChild);
  svg.querySelectorAll('title').forEach(t => t.remove());
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(svg);
}
function svgImage(text) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the frame could not be drawn'));
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text);
  });
}
const SCALE = 2; // PNGs at twice the SVG size: sharp when printed
async function pngDataUrl() {
  const img = await svgImage(svgText());
  const c = document.createElement('canvas');
  c.width = boardW * SCALE; c.height = boardH * SCALE;
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage(img, 0, 0, c.width, c.height);
  return c.toDataURL('image/png');
}
// The clip: every step of the loaded story as one PNG, frames in rows of up to COLS, each
// with its step's note below it.
async function clipDataUrl() {
  if (!story) throw new Error('load an entry first');
  const steps = story.data.steps, keep = story.at;
  // Each frame is the grid only; the legend is drawn once, below the last row.
  const COLS = Math.min(4, steps.length), CAP = 54, HEAD = 40;
  const fw = boardW, fh = gridH + 6, legendH = boardH - gridH;
  const rows = Math.ceil(steps.length / COLS);
  const c = document.createElement('canvas');
  c.width = COLS * fw; c.height = HEAD + rows * (fh + CAP) + legendH;
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = '#1d2730'; ctx.font = 'bold 20px "DejaVu Sans", sans-serif';
  ctx.fillText(story.data.headline || `node ${story.data.node}, entry ${story.data.entry}`, 12, 27);
  let img = null;
  for (let i = 0; i < steps.length; i++) {
    showStep(i);
    img = await svgImage(svgText());
    const x = (i % COLS) * fw, y = HEAD + Math.floor(i / COLS) * (fh + CAP);
    ctx.drawImage(img, 0, 0, fw, fh, x, y, fw, fh);
    ctx.strokeStyle = '#c5ccd3'; ctx.strokeRect(x + 0.5, y + 0.5, fw - 1, fh + CAP - 1);
    const st = steps[i];
    ctx.fillStyle = '#1d2730'; ctx.font = 'bold 15px "DejaVu Sans", sans-serif';
    ctx.fillText(`${st.n}. ${st.msg ? `${st.msg} ${st.from} → ${st.to} (${st.event})` : st.event}  ${st.time}`, x + 10, y + fh + 20);
    ctx.font = '14px "DejaVu Sans", sans-serif'; ctx.fillStyle = '#3e4c59';
    ctx.fillText(st.note || '', x + 10, y + fh + 41, fw - 20);
  }
  if (img) ctx.drawImage(img, 0, gridH, fw, legendH, 0, HEAD + rows * (fh + CAP), fw, legendH);
  showStep(keep);
  return c.toDataURL('image/png');
}
function download(name, href) {
  const a = document.createElement('a');
  a.href = href; a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
}
const stamp = () => (W.lastTs || new Date().toISOString()).slice(0, 23).replace(/[:.]/g, '-');
window.maekawaWatch.exportSvg = svgText;
window.maekawaWatch.exportPng = pngDataUrl;
window.maekawaWatch.exportClip = clipDataUrl;

// ---------------------------------------------------------------- start
let streamOk = true, dragging = false;

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}
function fillLocks() {
  const sel = $('lock');
  const have = [...sel.options].map(o => o.value);
  for (const k of [...W.locks].sort()) if (!have.includes(k)) {
    const o = document.createElement('option'); o.value = o.textContent = k; sel.appendChild(o);
  }
  sel.value = W.lock;
}

async function startReplay() {
  log = await getJSON('/api/log');
  for (const l of log) { l._t = parseTs(l.timestamp); if (l.lock) W.locks.add(l.lock); }
  t0 = log.length ? log[0]._t : 0;
  tEnd = log.length ? log[log.length - 1]._t : 0;
  tNow = t0;
  fillLocks();
  $('replay').hidden = false;
  $('story-box').hidden = false;
  const entries = await getJSON('/api/entries');
  const sel = $('entry');
  for (const e of entries) {
    if ((e.lock || 'cs') !== 'cs' || e.entry === undefined) continue; // stories are of cs entries
    const o = document.createElement('option');
    o.value = `${e.node}:${e.entry}`;
    o.textContent = `node ${e.node} · entry ${e.entry}${e.inc > 1 ? ` (inc ${e.inc})` : ''} · token ${e.token ?? '–'}`;
    sel.appendChild(o);
  }
  $('play').addEventListener('click', () => { if (story) closeStory(); setPlaying(!playing); });
  $('slider').addEventListener('input', () => {
    dragging = true;
    if (story) closeStory();
    seekTime(t0 + (tEnd - t0) * $('slider').value / 1000);
  });
  $('slider').addEventListener('change', () => { dragging = false; });
  $('speed').addEventListener('input', () => {
    speed = Math.pow(10, +$('speed').value);
    $('speed-out').textContent = (speed < 1 ? speed.toFixed(2) : speed.toFixed(1)) + '×';
    // Faster play, quicker dots; slower play, slower dots (but not endlessly slow).
    flightMs = Math.max(180, Math.min(1400, 650 / Math.sqrt(speed)));
  });
  $('story-load').addEventListener('click', () => loadStory().catch(showError));
  $('step-prev').addEventListener('click', () => showStep(story.at - 1));
  $('step-next').addEventListener('click', () => showStep(story.at + 1));
  $('story-close').addEventListener('click', closeStory);
  $('story-clip').addEventListener('click', async () => {
    try { download(`maekawa-node${story.data.node}-entry${story.data.entry}.png`, await clipDataUrl()); } catch (e) { showError(e); }
  });
  document.addEventListener('keydown', e => {
    if (e.target.tagName === 'INPUT' && e.target.type !== 'range' || e.target.tagName === 'SELECT') return;
    if (e.key === ' ') { e.preventDefault(); $('play').click(); }
    else if (story && e.key === 'ArrowRight') { e.preventDefault(); showStep(story.at + 1); }
    else if (story && e.key === 'ArrowLeft') { e.preventDefault(); showStep(story.at - 1); }
  });
  seekIndex(0);
  setPlaying(true);
}

function startLive() {
  flightMs = 420;  // live lines wait for their dot at most LIVE_MAX_WAIT: keep dots quick
  const es = new EventSource('/api/events');
  es.onopen = () => { streamOk = true; };
  es.onerror = () => { streamOk = false; };  // EventSource reconnects by itself
  es.onmessage = ev => {
    let line;
    try { line = JSON.parse(ev.data); } catch { return; }
    if (line.lock && !W.locks.has(line.lock)) { W.locks.add(line.lock); fillLocks(); }
    liveQueue.push({ line, at: performance.now() });
  };
}

function showError(e) {
  console.warn(e);
  $('status').textContent = String(e.message || e);
}

async function main() {
  W.config = await getJSON('/api/config');
  W.mode = W.config.mode === 'live' ? 'live' : 'replay';
  resetModel();
  buildBoard();
  $('lock').addEventListener('change', () => {
    W.lock = $('lock').value; clearFlights(); dirty = true;
    if (story) showStep(story.at);
  });
  $('export-svg').addEventListener('click', () => {
    download(`maekawa-${stamp()}.svg`, URL.createObjectURL(new Blob([svgText()], { type: 'image/svg+xml' })));
  });
  $('export-png').addEventListener('click', async () => {
    try { download(`maekawa-${stamp()}.png`, await pngDataUrl()); } catch (e) { showError(e); }
  });
  fillLocks();
  if (W.mode === 'live') startLive(); else await startReplay();
  publish();
  requestAnimationFrame(frame);
}
main().catch(showError);
