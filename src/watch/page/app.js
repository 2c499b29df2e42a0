// maekawa watch, 3 of 3: the controls. The clock that feeds lines to the model (live from
// /api/events, replay from /api/log), the side panel (feed, entry stepper), export, start.
'use strict';


// ---------------------------------------------------------------- the feed (side panel)
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
const LIVE_MAX_WAIT = 400; // live: no line waits longer than this for its dot (the test allows 1 s)

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
  // Draw now rather than on the next frame, so that the picture and the test hooks agree
  // with the slider as soon as it moved.
  renderNodes(); dirty = false;
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
  const opt = $('entry').selectedOptions[0];
  if (!opt) return;
  const [node, entry] = opt.value.split(':');
  const data = await getJSON(`/api/story?node=${node}&entry=${entry}&inc=${opt.dataset.inc || 1}`);
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
  // Entry numbers restart with each process of a node, so (node, entry) can repeat. As in
  // `maekawa report`, NODE:ENTRY names the last process that has that entry; an earlier
  // process's option is NODE:ENTRY:INC. The process itself is in data-inc.
  const cs = entries.filter(e => (e.lock || 'cs') === 'cs' && e.entry !== undefined); // stories are of cs entries
  const lastInc = new Map();
  for (const e of cs) {
    const k = `${e.node}:${e.entry}`;
    lastInc.set(k, Math.max(lastInc.get(k) ?? 0, e.inc ?? 1));
  }
  for (const e of cs) {
    const o = document.createElement('option');
    const k = `${e.node}:${e.entry}`;
    o.value = (e.inc ?? 1) === lastInc.get(k) ? k : `${k}:${e.inc}`;
    o.dataset.inc = e.inc ?? 1;
    o.textContent = `node ${e.node} · entry ${e.entry}${e.inc > 1 ? ` (process ${e.inc})` : ''} · token ${e.token ?? '–'}`;
    sel.appendChild(o);
  }
  $('play').addEventListener('click', () => { if (story) closeStory(); setPlaying(!playing); });
  $('slider').addEventListener('input', () => {
    dragging = true;
    if (story) closeStory();
    setPlaying(false);   // a seek shows that moment; play goes on from it
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

let backlogLeft = 0;   // live: lines of the server's backlog still to come (applied silently)
function startLive() {
  flightMs = 380;  // live lines wait for their dot at most LIVE_MAX_WAIT: keep dots quick
  const es = new EventSource('/api/events');
  es.onopen = () => { streamOk = true; };
  es.onerror = () => { streamOk = false; };  // EventSource reconnects by itself
  es.onmessage = ev => {
    let line;
    try { line = JSON.parse(ev.data); } catch { return; }
    if (line.lock && !W.locks.has(line.lock)) { W.locks.add(line.lock); fillLocks(); }
    if (line.event === 'watch_hello') {
      // The server (re)starts the feed: its kept lines follow. Start afresh and take those
      // lines as history (no animation), then animate what comes after.
      resetModel(); clearFlights(); clearFeed();
      liveQueue.length = 0;
      backlogLeft = line.backlog || 0;
      dirty = true;
      return;
    }
    if (backlogLeft > 0) {
      backlogLeft--;
      apply(line, false);
      if (backlogLeft < 60) feed(line);
      return;
    }
    if (line.event === 'watch_dropped') { feed(line); return; }
    // A hidden tab gets no animation frames, so the queue would only grow; and a queue far
    // behind cannot be animated anyway. Apply what waits at once, without dots.
    if (document.hidden || liveQueue.length > 2000) {
      for (const q of liveQueue) { apply(q.line, false); feed(q.line); }
      liveQueue.length = 0;
      clearFlights();
      apply(line, false); feed(line);
      dirty = true;
      return;
    }
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
