// Real daemons for the tests: a cluster file of N nodes on free 127.0.0.1 ports, one
// `maekawa node` process per node, waited for with deadlines, killed by PID, and checked
// with `maekawa check` at the end (clients-spec, "Real daemons for tests").
//
// The binary is $MAEKAWA_BIN, else <repo>/target/release/maekawa, built with cargo when
// missing. Nothing here sleeps and hopes: every wait is for a condition, with a deadline.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { listLocks } from "maekawa-client";

/** The package directory (clients/node) and the repository's root. */
export const PKG = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = resolve(PKG, "..", "..");

let bin;
/** The maekawa binary, built once if there is none. */
export function maekawaBin() {
  if (bin !== undefined) return bin;
  const fromEnv = process.env.MAEKAWA_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`MAEKAWA_BIN=${fromEnv} does not exist`);
    return (bin = fromEnv);
  }
  const built = join(REPO, "target", "release", "maekawa");
  if (!existsSync(built)) {
    execFileSync("cargo", ["build", "--release", "--bin", "maekawa"], { cwd: REPO, stdio: "inherit" });
  }
  return (bin = built);
}

/** Waits until `check()` returns a truthy value (returned), polling; throws after `ms`. */
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

/** Whether a TCP port on 127.0.0.1 can be bound now. */
function canBind(port) {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

/**
 * `n` distinct ports that are free now, in 10000..32000: below the ephemeral range
 * (32768-60999), so no outgoing connection takes one between the probe and the bind.
 */
export async function freePorts(n) {
  const ports = [];
  let p = 10000 + Math.floor(Math.random() * 21000);
  while (ports.length < n) {
    p = p >= 32000 ? 10000 : p + 1;
    if (!ports.includes(p) && (await canBind(p))) ports.push(p);
  }
  return ports;
}

/** A fresh temporary directory, removed by the cluster's stop(). */
export function tempDir(prefix = "maekawa-node-test-") {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Every daemon started and not yet seen to exit: killed (by PID) if the test process exits. */
const running = new Set();
process.on("exit", () => {
  for (const child of running) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {}
  }
});

/** A cluster of `n` real daemons on 127.0.0.1. */
export class Cluster {
  /** Starts it; `tls` runs `maekawa certs init` first. */
  static async start({ n = 3, tls = false } = {}) {
    const c = new Cluster();
    c.dir = tempDir();
    c.config = join(c.dir, "quorums.json");
    c.logDir = join(c.dir, "logs");
    const ports = await freePorts(n);
    c.nodes = ports.map((port, id) => ({ id, addr: `127.0.0.1:${port}` }));
    writeFileSync(c.config, JSON.stringify({ nodes: c.nodes }, null, 2));
    if (tls) {
      execFileSync(maekawaBin(), ["certs", "init", "--config", c.config], { stdio: "pipe" });
    }
    c.procs = new Map();
    try {
      for (const node of c.nodes) c.spawnNode(node.id);
      for (const node of c.nodes) await c.waitReady(node.id);
    } catch (e) {
      c.killAll();
      throw e;
    }
    return c;
  }

  /** Starts node `id`'s daemon (stdout and stderr to files in the temp directory). */
  spawnNode(id) {
    const out = openSync(join(this.dir, `node-${id}.out`), "a");
    const child = spawn(
      maekawaBin(),
      ["node", "--id", String(id), "--config", this.config, "--log-dir", this.logDir, "--workload", "manual"],
      { stdio: ["ignore", out, out] },
    );
    running.add(child);
    child.exited = new Promise((res) =>
      child.once("exit", (code, signal) => {
        running.delete(child);
        res({ code, signal });
      }),
    );
    this.procs.set(id, child);
    return child;
  }

  /** Waits until node `id` answers Lock.List (its daemon is serving). */
  async waitReady(id, ms = 15000) {
    const child = this.procs.get(id);
    await waitFor(`node ${id} to answer Lock.List`, ms, async () => {
      if (child.exitCode !== null) {
        throw new Error(`node ${id} exited (${child.exitCode}): ${this.output(id)}`);
      }
      await listLocks({ node: id, config: this.config, timeoutMs: 500 });
      return true;
    }, 50);
  }

  /** node `id`'s address. */
  addr(id) {
    return this.nodes[id].addr;
  }

  /** What node `id`'s daemon printed. */
  output(id) {
    try {
      return readFileSync(join(this.dir, `node-${id}.out`), "utf8").trim().split("\n").slice(-5).join(" | ");
    } catch {
      return "";
    }
  }

  /** The PID of node `id`'s daemon. */
  pid(id) {
    return this.procs.get(id).pid;
  }

  /** Sends SIGKILL to node `id`'s daemon (by PID) and waits for it to exit. */
  async kill(id) {
    const child = this.procs.get(id);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await child.exited;
  }

  /** Kills every daemon still running, by PID, without waiting. */
  killAll() {
    for (const child of this.procs?.values() ?? []) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, "SIGCONT");
        } catch {}
        child.kill("SIGKILL");
      }
    }
  }

  /**
   * Kills the daemons, runs `maekawa check` on their logs (mutual exclusion held), and
   * removes the directory. Throws when the check fails (its output is the message).
   */
  async stop() {
    this.killAll();
    await Promise.all([...this.procs.values()].map((c) => c.exited));
    const check = spawnSync(maekawaBin(), ["check", "--log-dir", this.logDir, "--config", this.config], {
      encoding: "utf8",
    });
    if (check.status !== 0) {
      throw new Error(`maekawa check failed (exit ${check.status}) in ${this.dir}: ${check.stdout}${check.stderr}`);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a process to its end (with a deadline); resolves with its code and output. */
export function run(cmd, args, { ms = 60000, ...opts } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`${cmd} ${args.join(" ")} ran longer than ${ms} ms: ${stdout}${stderr}`));
    }, ms);
    child.once("error", (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout, stderr });
    });
  });
}

/** Milliseconds since `t0` (performance.now()), one decimal. */
export function since(t0) {
  return Math.round((performance.now() - t0) * 10) / 10;
}

/** `promise`, or a rejection naming `what` if it takes longer than `ms`. */
export function within(what, ms, promise) {
  let timer;
  const deadline = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
