// maekawa watch, 2 of 3: the picture. The grid of node cards, the vote lines, the messages
// in flight, the story arrows and the legend, all in the svg #board (so that an exported
// frame is the whole picture).
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
// ---------------------------------------------------------------- the picture
const G = {};          // svg layers and per-node elements
let boardW = 0, boardH = 0, gridH = 0;

function centre(id) {
  const n = W.nodes.get(id);
  return { x: LEFT + n.col * CELL_W + CELL_W / 2, y: TOP + n.row * CELL_H + CELL_H / 2 };
}

// The path between two cards: from the edge of one to the edge of the other, bent a little
// so that A→B and B→A do not overlap (each bows to its own side). Returns the quadratic
// Bézier's three points.
function route(from, to, bend = 0.18) {
  const a = centre(from), b = centre(to);
  const dx = b.x - a.x, dy = b.y - a.y, d = Math.hypot(dx, dy) || 1;
  const ux = dx / d, uy = dy / d;
  // How far the control point stands off the straight line.
  let off = bend * d * 0.5;
  // A hop along a row or a column that skips cards goes round them, through the gap between
  // two rows (columns): the curve's middle, half the control point's offset, is half a cell
  // off the line.
  const na = W.nodes.get(from), nb = W.nodes.get(to);
  if (na.row === nb.row && Math.abs(na.col - nb.col) >= 2) off = Math.sign(bend) * CELL_H;
  else if (na.col === nb.col && Math.abs(na.row - nb.row) >= 2) off = Math.sign(bend) * CELL_W;
  const p1 = { x: (a.x + b.x) / 2 - uy * off, y: (a.y + b.y) / 2 + ux * off };
  // Leave and arrive at the card's edge, in the direction of the curve there.
  const atEdge = (c) => {
    const vx = p1.x - c.x, vy = p1.y - c.y, v = Math.hypot(vx, vy) || 1;
    const e = Math.min((CARD_W / 2 + 3) / Math.max(Math.abs(vx / v), 1e-6), (CARD_H / 2 + 3) / Math.max(Math.abs(vy / v), 1e-6));
    return { x: c.x + vx / v * e, y: c.y + vy / v * e };
  };
  return [atEdge(a), p1, atEdge(b)];
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
    if (st === 'down') e.l1.textContent = n.why ? `(${shortWhy(n.why)})` : '';
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
    if (st === 'down' && suspected.has(n.id)) warn = `suspected by ${suspected.get(n.id).join(',')}`;
    e.l4.textContent = `token ${s.token ?? '–'}${n.inc > 1 ? ` · inc ${n.inc}` : ''}${warn ? ' · ' + warn : ''}`;
    e.l4.setAttribute('class', warn ? 'warn' : 'small');
    e.tip.textContent = `node ${n.id} ${n.addr || ''}${n.down && n.why ? `\ndown: ${n.why}` : ''}\nquorum {${n.quorum.join(', ')}}` +
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
  const placed = [];   // label boxes drawn this frame: a label that would overlap one is hidden
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
      const lx = b.x + 9, ly = b.y - 8, lw = 7 * f.label.textContent.length;
      let op = Math.max(0, Math.min(1, (ease - 0.08) * 8, (0.8 - ease) * 8));
      if (flights.length > 12) op = 0;   // a crowd of names reads worse than none
      if (op > 0 && placed.some(q => lx < q.x + q.w && q.x < lx + lw && Math.abs(ly - q.y) < 14)) op = 0;
      if (op > 0) placed.push({ x: lx, y: ly, w: lw });
      f.label.setAttribute('x', lx.toFixed(1)); f.label.setAttribute('y', ly.toFixed(1));
      f.label.setAttribute('opacity', op.toFixed(2));
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

// ---------------------------------------------------------------- story arrows
// The messages of an entry's story up to step k, as numbered arrows (app.js: showStep).
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
