// The browser test of `maekawa watch` (issue 29): real daemons with the auto workload, a real
// `maekawa watch`, Debian's headless Chromium. It relies only on the page's test hooks
// (/work docs: watch-spec.md, "Test hooks"): svg#board[data-entries], g.node[data-node]
// [data-state], window.maekawaWatch {mode, entries, nodes}, #status; and for the replay's
// step-through: #entry (options "NODE:ENTRY"), #story-load, #step-next, #step-pos ("k / N"),
// #steps > li (one per step), #caption ("step n of N", then "Msg A → B" or the event).
//
// Run by test.sh (`node --test`); MAEKAWA_BIN picks the binary, MAEKAWA_SCREENSHOT where the
// live 3-node page's screenshot goes (else a temp file).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { Cluster, maekawaBin, openBrowser, tsMs, waitFor } from "./harness.mjs";

const ENTRY_MS = 1000; // an entry is drawn within 1 s of its enter_cs line
const DOWN_MS = 3000; // a kill -9 shows as down within 3 s
const UP_MS = 5000; // a restart shows as back within 5 s
const MEASURED = 8; // entries whose latency is measured

/** Runs `fs` (newest first) when test `t` ends, passed or failed. */
function cleanup(t, ...fs) {
  t.after(async () => {
    for (const f of fs.reverse()) await f().catch(() => {});
  });
}

const state = async (page, id) => page.getAttribute(`#board g.node[data-node="${id}"]`, "data-state");
const nodeIds = (page) =>
  page.$$eval("#board g.node[data-node]", (gs) => gs.map((g) => Number(g.getAttribute("data-node"))).sort((a, b) => a - b));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Waits until the page shows every node, all connected ("live: N nodes, N connected"). */
async function waitAllLive(page, n, ms = 10000) {
  await waitFor(`all ${n} nodes on the page`, ms, async () => (await nodeIds(page)).length === n);
  assert.deepEqual(await nodeIds(page), [...Array(n).keys()]);
  await waitFor(`#status to say "live: ${n} nodes, ${n} connected"`, ms, async () =>
    new RegExp(`^live: ${n} nodes, ${n} connected`).test(((await page.textContent("#status")) || "").trim()),
  );
  assert.equal(await page.evaluate(() => window.maekawaWatch.mode), "live");
}

// The live 3-node run; its logs are replayed by the next test.
let run3 = null;

test("live, 3 nodes: every node, entries within 1 s, kill -9 down, restart back, screenshot", async (t) => {
  const c = await Cluster.start(3);
  let b = null;
  cleanup(t, async () => {
    await c.stopAll();
    if (!run3) c.remove();
  }, async () => b?.close());
  const url = await c.startWatch();
  b = await openBrowser();
  const { page } = b;
  const t0 = Date.now();
  await page.goto(url);
  await waitAllLive(page, 3);
  console.log(`# page up with 3 nodes, all connected, ${Date.now() - t0} ms after goto`);

  // Entries: the next MEASURED enter_cs lines logged from now on, each on the page ≤ 1 s after
  // its timestamp (the page's Date.now() and the daemons' stamps are the same wall clock).
  const from = Date.now() + 100;
  const logged = await waitFor(`${MEASURED} entries logged`, 30000, () => {
    const es = c.entries().filter((e) => e._ms >= from);
    return es.length >= MEASURED && es.slice(0, MEASURED);
  }, 50);
  const keys = logged.map((e) => `${e.node}|${e.timestamp}`);
  const seen = await waitFor("the page to draw those entries", 10000, async () => {
    const s = await page.evaluate(() => window.__rec.seen);
    return keys.every((k) => k in s) && s;
  }, 50);
  const lat = logged.map((e, i) => seen[keys[i]] - e._ms);
  console.log(`# entry latency (log line → drawn), ms: ${lat.map((x) => x.toFixed(0)).join(" ")}; median ${median(lat).toFixed(0)}, max ${Math.max(...lat).toFixed(0)}`);
  for (const [i, e] of logged.entries()) {
    assert.ok(lat[i] <= ENTRY_MS, `node ${e.node} entry ${e.entry} drawn ${lat[i].toFixed(0)} ms after its enter_cs line`);
  }
  const hook = await page.evaluate(() => ({
    drawn: Number(document.getElementById("board").getAttribute("data-entries")),
    entries: window.maekawaWatch.entries.length,
  }));
  assert.ok(hook.drawn >= MEASURED && hook.entries >= hook.drawn, `data-entries ${hook.drawn}, entries ${hook.entries}`);

  // The screenshot (for README: docs/watch.png), taken while a node is in the CS if one is
  // seen within 3 s.
  await page
    .waitForFunction(() => document.querySelector('#board g.node[data-state="in-cs"]'), null, { timeout: 3000, polling: "raf" })
    .catch(() => {});
  const shot = process.env.MAEKAWA_SCREENSHOT || join(c.dir, "watch.png");
  mkdirSync(dirname(shot), { recursive: true });
  const png = await page.screenshot({ path: shot });
  assert.ok(png.length > 10000 && png.subarray(1, 4).toString() === "PNG", `screenshot ${shot}: ${png.length} bytes`);
  console.log(`# screenshot: ${shot} (${png.length} bytes)`);

  // kill -9 node 2 → down ≤ 3 s.
  const victim = 2;
  assert.notEqual(await state(page, victim), "down");
  const tKill = Date.now();
  await c.kill9(victim);
  const downAt = await waitFor(`node ${victim} to show down`, DOWN_MS + 2000, async () => {
    const h = (await page.evaluate((id) => window.__rec.states[id] || [], String(victim))).filter((s) => s.at >= tKill);
    return h.find((s) => s.state === "down")?.at;
  }, 20);
  const down = downAt - tKill;
  console.log(`# kill -9 → data-state="down": ${down} ms`);
  assert.ok(down <= DOWN_MS, `node ${victim} down after ${down} ms`);
  assert.equal(await page.evaluate((id) => window.maekawaWatch.nodes[id]?.state, victim), "down");
  await waitFor(`#status to count 2 connected`, 3000, async () => /^live: 3 nodes, 2 connected/.test(await page.textContent("#status")));

  // Restart it (same arguments) → back (not down) ≤ 5 s.
  const tUp = Date.now();
  c.spawnNode(victim);
  const upAt = await waitFor(`node ${victim} to come back`, UP_MS + 5000, async () => {
    const h = (await page.evaluate((id) => window.__rec.states[id] || [], String(victim))).filter((s) => s.at >= tUp);
    return h.find((s) => s.state !== "down")?.at;
  }, 20);
  const up = upAt - tUp;
  console.log(`# restart → data-state not "down": ${up} ms`);
  assert.ok(up <= UP_MS, `node ${victim} back after ${up} ms`);
  await c.waitStarted(victim);
  await waitAllLive(page, 3);

  // Its re-voting: the restarted process enters the CS again, and the page draws it.
  const pid = c.procs.get(victim).pid;
  const again = await waitFor(`node ${victim}'s new process to enter the CS`, 20000, () => {
    const lines = c.entries().filter((e) => e.node === victim && e._ms >= tUp);
    return lines[0];
  }, 50);
  await waitFor("the page to draw it", 5000, async () =>
    `${again.node}|${again.timestamp}` in (await page.evaluate(() => window.__rec.seen)),
  );
  console.log(`# node ${victim} (pid ${pid}) entered again ${(again._ms - tUp).toFixed(0)} ms after its restart; drawn`);

  assert.deepEqual(b.problems, [], "no console errors");
  await b.close();
  await c.stopAll();
  run3 = c;
});

test("replay of that run: loads, shows the kill, steps through entries as maekawa report tells them", async (t) => {
  if (!run3) return t.skip("the live 3-node run failed");
  const c = run3;
  let b = null;
  cleanup(t, async () => {
    await c.stopWatch();
    c.remove();
  }, async () => b?.close());
  const url = await c.startWatch({ logDir: c.logDir });
  b = await openBrowser();
  const { page } = b;
  await page.goto(url);
  await waitFor("replay mode", 10000, async () =>
    (await page.evaluate(() => window.maekawaWatch?.mode)) === "replay" && /^replay: /.test(await page.textContent("#status")),
  );
  await waitFor("3 nodes", 5000, async () => (await nodeIds(page)).length === 3);

  // The whole run (slider to its end): every enter_cs line of the logs applied.
  const total = c.entries().length;
  await page.locator("#slider").fill("1000");
  await waitFor(`data-entries = ${total} (every enter_cs of the logs)`, 10000, async () =>
    Number(await page.getAttribute("#board", "data-entries")) === total,
  );

  // The kill: just after the watch_down the replay marks, node 2 shows down.
  const log = await (await fetch(`${url}api/log`)).json();
  const di = log.findIndex((l) => l.event === "watch_down" && l.node === 2);
  assert.ok(di >= 0, "the replay marks node 2's kill (watch_down)");
  const back = log.findIndex((l, i) => i > di && l.node === 2 && l.event === "start");
  assert.ok(back > di, "and its return (start)");
  const [ta, tb, tz, te] = [log[di], log[back], log[0], log[log.length - 1]].map((l) => tsMs(l.timestamp));
  const frac = Math.round((((ta + tb) / 2 - tz) / (te - tz)) * 1000);
  await page.locator("#slider").fill(String(frac));
  await waitFor("node 2 down in the middle of its absence", 5000, async () => (await state(page, 2)) === "down");
  // Back after its restart (until the daemons were stopped at the end of the run).
  const end = log.findIndex((l, i) => i > back && l.event === "stop");
  const tc = tsMs((end > back ? log[end] : log[log.length - 1]).timestamp);
  await page.locator("#slider").fill(String(Math.round((((tb + tc) / 2 - tz) / (te - tz)) * 1000)));
  await waitFor("node 2 back after its restart", 5000, async () => (await state(page, 2)) !== "down");

  // Stories: node 0's second entry, node 2's first entry after its restart (the re-voting),
  // and among the first entries of every node the one with the most kinds of message.
  const report = (node, entry) =>
    JSON.parse(execFileSync(maekawaBin(), ["report", "--log-dir", c.logDir, "--node", String(node), "--entry", String(entry), "--format", "json"], { encoding: "utf8" }));
  const picks = [[0, 2]];
  const restarted = c.entries().filter((e) => e.node === 2 && e._ms > ta);
  if (restarted.length) picks.push([2, restarted[0].entry]);
  let richest = null;
  for (const id of [0, 1, 2]) {
    for (let k = 1; k <= 6; k++) {
      if (!c.entries().some((e) => e.node === id && e.entry === k)) continue;
      const kinds = new Set(report(id, k).steps.filter((s) => s.msg).map((s) => s.msg)).size;
      if (!richest || kinds > richest[2]) richest = [id, k, kinds];
    }
  }
  if (richest && !picks.some(([x, k]) => x === richest[0] && k === richest[1])) picks.push(richest.slice(0, 2));

  for (const [node, entry] of picks) {
    const want = report(node, entry);
    const n = want.steps.length;
    assert.ok(n > 0);
    await page.selectOption("#entry", `${node}:${entry}`);
    await page.click("#story-load");
    await waitFor(`node ${node} entry ${entry}: step 1 / ${n}`, 5000, async () =>
      ((await page.textContent("#step-pos")) || "").trim() === `1 / ${n}`,
    );
    assert.equal(await page.locator("#steps > li").count(), n, `node ${node} entry ${entry}: steps listed`);
    const shown = [];
    for (let k = 0; k < n; k++) {
      if (k > 0) {
        await page.click("#step-next");
        await waitFor(`step ${k + 1} / ${n}`, 3000, async () => ((await page.textContent("#step-pos")) || "").trim() === `${k + 1} / ${n}`);
      }
      const cap = (await page.textContent("#caption")) || "";
      const st = want.steps[k];
      assert.ok(cap.includes(`step ${st.n} of ${n}`), `caption of step ${k + 1}: ${cap}`);
      const what = st.msg ? `${st.msg} ${st.from} → ${st.to}` : st.event;
      assert.ok(cap.includes(what), `node ${node} entry ${entry} step ${st.n}: the page shows "${cap}", report says ${what}`);
      shown.push(st.msg || st.event);
    }
    const kinds = [...new Set(want.steps.filter((s) => s.msg).map((s) => s.msg))];
    console.log(`# node ${node} entry ${entry}: ${n} steps as report lists them (${kinds.join(", ")})`);
  }

  assert.deepEqual(b.problems, [], "no console errors");
});

test("live, 9 nodes (grid 3×3): every node appears, fitted on the board", async (t) => {
  const c = await Cluster.start(9);
  let b = null;
  cleanup(t, async () => {
    await c.stopAll();
    c.remove();
  }, async () => b?.close());
  const url = await c.startWatch();
  const cfg = await (await fetch(`${url}api/config`)).json();
  assert.equal(cfg.system, "grid");
  assert.deepEqual([cfg.rows, cfg.cols], [3, 3]);
  b = await openBrowser();
  const { page } = b;
  await page.goto(url);
  await waitAllLive(page, 9);
  // Every node's card inside the board and inside the window, none on another.
  const board = await page.locator("#board").boundingBox();
  const boxes = [];
  for (let id = 0; id < 9; id++) boxes.push(await page.locator(`#board g.node[data-node="${id}"]`).boundingBox());
  const eps = 1;
  for (const [id, r] of boxes.entries()) {
    assert.ok(r && r.width > 0 && r.height > 0, `node ${id} drawn`);
    assert.ok(r.x >= board.x - eps && r.y >= board.y - eps && r.x + r.width <= board.x + board.width + eps && r.y + r.height <= board.y + board.height + eps, `node ${id} inside the board`);
    assert.ok(r.x + r.width <= 1280 + eps && r.y + r.height <= 800 + eps, `node ${id} inside the window`);
  }
  for (let i = 0; i < 9; i++) {
    for (let j = i + 1; j < 9; j++) {
      const [p, q] = [boxes[i], boxes[j]];
      const overlap = p.x < q.x + q.width - eps && q.x < p.x + p.width - eps && p.y < q.y + q.height - eps && q.y < p.y + p.height - eps;
      assert.ok(!overlap, `nodes ${i} and ${j} overlap`);
    }
  }
  // And entries are drawn.
  const from = Date.now();
  const e = await waitFor("an entry", 20000, () => c.entries().find((x) => x._ms >= from), 50);
  await waitFor("it drawn", 5000, async () => `${e.node}|${e.timestamp}` in (await page.evaluate(() => window.__rec.seen)));
  assert.deepEqual(b.problems, [], "no console errors");
});
