// Real daemons, a real `maekawa watch` and Debian's Chromium for watch.test.mjs (issue 29).
//
// The binary is $MAEKAWA_BIN, else <repo>/target/release/maekawa (built by `cargo test
// --release` before CI gets here). Every process started here is remembered by PID and
// killed by PID: by the test's own teardown, and by an exit hook if the test dies first.
// Nothing sleeps and hopes: every wait polls a condition against a deadline.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "..", "..");

/** The maekawa binary under test. */
export function maekawaBin() {
  const bin = process.env.MAEKAWA_BIN || join(REPO, "target", "release", "maekawa");
  if (!existsSync(bin)) {
    throw new Error(`${bin} does not exist: build it (cargo build --release) or set MAEKAWA_BIN`);
  }
  return bin;
}

/** Debian's Chromium (never a downloaded one); $CHROMIUM overrides. */
export function chromiumBin() {
  const bin = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(bin)) throw new Error(`${bin} is missing: apt-get install chromium (test.sh does)`);
  return bin;
}

/** Polls `check()` until it returns a truthy value (returned); throws after `ms`. */
export async function waitFor(what, ms, check, pollMs = 20) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    await sleep(pollMs);
  }
}

function canBind(port) {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

/** `n` distinct 127.0.0.1 ports free now, in 20000..32000 (below the ephemeral range). */
export async function freePorts(n) {
  const ports = [];
  let p = 20000 + Math.floor(Math.random() * 12000);
  for (let tried = 0; ports.length < n; tried++) {
    if (tried > 12000) throw new Error("no free ports in 20000..32000");
    p = p >= 32000 ? 20000 : p + 1;
    if (!ports.includes(p) && (await canBind(p))) ports.push(p);
  }
  return ports;
}

/** Every child started and not yet seen to exit. */
const running = new Set();
process.on("exit", () => {
  for (const child of running) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {}
  }
});

/** Starts `bin args` with stdout+stderr to `outFile`; the child gets `.exited` (a promise). */
export function start(args, outFile) {
  const out = openSync(outFile, "a");
  const child = spawn(maekawaBin(), args, { stdio: ["ignore", out, out] });
  running.add(child);
  child.outFile = outFile;
  child.exited = new Promise((res) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      res({ code, signal });
    }),
  );
  return child;
}

/** Stops a child by its PID: `signal`, then SIGKILL if it has not exited within `ms`. */
export async function stop(child, signal = "SIGTERM", ms = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {}
  const done = await Promise.race([child.exited, sleep(ms).then(() => null)]);
  if (done === null) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {}
    await child.exited;
  }
}

export function output(child) {
  try {
    return readFileSync(child.outFile, "utf8").slice(-2000);
  } catch {
    return "";
  }
}

/** The JSON lines of a node log (a torn last line is skipped). */
export function logLines(logDir, id) {
  let text;
  try {
    text = readFileSync(join(logDir, `node-${id}.log`), "utf8");
  } catch {
    return [];
  }
  const lines = [];
  for (const s of text.split("\n")) {
    if (!s) continue;
    try {
      lines.push(JSON.parse(s));
    } catch {}
  }
  return lines;
}

/** A log timestamp ("2026-12-07T09:27:59.509881Z") in ms since the epoch, to the µs. */
export function tsMs(ts) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return Date.parse(ts);
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] || "0"}`) * 1000;
}

/** A cluster of `n` real daemons (auto workload) on free 127.0.0.1 ports. */
export class Cluster {
  static async start(n) {
    const c = new Cluster();
    c.dir = mkdtempSync(join(tmpdir(), "maekawa-watch-test-"));
    c.config = join(c.dir, "quorums.json");
    c.logDir = join(c.dir, "logs");
    const ports = await freePorts(n + 1);
    c.watchPort = ports.pop();
    c.nodes = ports.map((port, id) => ({ id, addr: `127.0.0.1:${port}` }));
    writeFileSync(c.config, JSON.stringify({ nodes: c.nodes }, null, 2));
    c.procs = new Map();
    try {
      for (const { id } of c.nodes) c.spawnNode(id);
      for (const { id } of c.nodes) await c.waitStarted(id);
    } catch (e) {
      await c.stopAll();
      throw e;
    }
    return c;
  }

  /** `maekawa node --id ID --config F --log-dir D` (the same arguments on a restart). */
  spawnNode(id) {
    const child = start(
      ["node", "--id", String(id), "--config", this.config, "--log-dir", this.logDir],
      join(this.dir, `node-${id}.out`),
    );
    this.procs.set(id, child);
    return child;
  }

  /** Waits for the `start` line of node `id`'s current process (its pid) in its log. */
  async waitStarted(id, ms = 15000) {
    const child = this.procs.get(id);
    await waitFor(`node ${id} (pid ${child.pid}) to log start`, ms, () => {
      if (child.exitCode !== null) throw new Error(`node ${id} exited: ${output(child)}`);
      return logLines(this.logDir, id).some((l) => l.event === "start" && l.pid === child.pid);
    }, 50);
  }

  /** kill -9 of node `id`'s daemon, by PID; resolves once it is gone. */
  async kill9(id) {
    const child = this.procs.get(id);
    process.kill(child.pid, "SIGKILL");
    await child.exited;
  }

  /** Every enter_cs line of the run so far, each with `_ms` (its timestamp in ms). */
  entries() {
    const all = [];
    for (const { id } of this.nodes) {
      for (const l of logLines(this.logDir, id)) {
        if (l.event === "enter_cs") all.push({ ...l, _ms: tsMs(l.timestamp) });
      }
    }
    return all.sort((a, b) => a._ms - b._ms);
  }

  /** `maekawa watch` live (or, with `logDir`, replaying that run) on a free port. */
  async startWatch({ logDir } = {}) {
    const args = ["watch", "--config", this.config, "--addr", `127.0.0.1:${this.watchPort}`];
    if (logDir) args.push("--log-dir", logDir);
    const w = start(args, join(this.dir, logDir ? "watch-replay.out" : "watch.out"));
    this.watch = w;
    const url = `http://127.0.0.1:${this.watchPort}/`;
    await waitFor("maekawa watch to serve /api/config", 15000, async () => {
      if (w.exitCode !== null) throw new Error(`maekawa watch exited: ${output(w)}`);
      const r = await fetch(`${url}api/config`);
      return r.ok;
    }, 50);
    return url;
  }

  async stopWatch() {
    await stop(this.watch);
    this.watch = null;
  }

  /** Every daemon by SIGTERM (it leaves the CS and logs `stop`), SIGKILL after 5 s. */
  async stopNodes() {
    await Promise.all([...this.procs.values()].map((c) => stop(c)));
  }

  async stopAll() {
    await this.stopWatch();
    await this.stopNodes();
  }

  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Headless Debian Chromium with a fresh profile, and one page that records, in the page's own
 * clock (Date.now(), the same wall clock the daemons stamp their log lines with):
 * - `__rec.seen[node|timestamp]`: when each enter_cs line first showed in
 *   window.maekawaWatch.entries with #board[data-entries] counting it;
 * - `__rec.states[id]`: every change of a node's data-state, with its time.
 * Console errors, page errors and the page's own warnings are collected in `problems`.
 */
export async function openBrowser({ width = 1280, height = 800 } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "maekawa-watch-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumBin(),
    headless: true,
    viewport: { width, height },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  const problems = [];
  page.on("console", (m) => {
    const fromPage = /\/app\.js/.test(m.location()?.url || "");
    if (m.type() === "error" || (m.type() === "warning" && fromPage)) {
      problems.push(`console ${m.type()}: ${m.text()} (${m.location()?.url || "?"})`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.addInitScript(recorder);
  return {
    page,
    problems,
    async close() {
      await ctx.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Runs in the page before its own scripts.
function recorder() {
  const rec = { seen: {}, states: {} };
  window.__rec = rec;
  const scan = () => {
    const board = document.getElementById("board");
    const w = window.maekawaWatch;
    if (!board || !w || !Array.isArray(w.entries)) return;
    const drawn = Number(board.getAttribute("data-entries") || 0);
    const now = Date.now();
    const n = Math.min(drawn, w.entries.length);
    for (let i = 0; i < n; i++) {
      const e = w.entries[i];
      const key = `${e.node}|${e.timestamp}`;
      if (!(key in rec.seen)) rec.seen[key] = now;
    }
  };
  const states = () => {
    const now = Date.now();
    for (const g of document.querySelectorAll("#board g.node[data-node]")) {
      const id = g.getAttribute("data-node");
      const st = g.getAttribute("data-state");
      const h = (rec.states[id] ||= []);
      if (!h.length || h[h.length - 1].state !== st) h.push({ state: st, at: now });
    }
  };
  const arm = () => {
    const board = document.getElementById("board");
    if (!board) return;
    new MutationObserver(() => {
      scan();
      states();
    }).observe(board, { attributes: true, subtree: true, childList: true, attributeFilter: ["data-entries", "data-state"] });
    // Also on a timer: a hook updated without an attribute change is still seen.
    setInterval(() => {
      scan();
      states();
    }, 25);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", arm);
  else arm();
}
