// Leader election: candidate A through node 0 leads first; B waits through node 1; a watcher
// reads every node. kill -9 of node 0's daemon: A's lost fires, B leads within 8 s, and the
// watcher yielded A then B, in that order. The failover time is printed.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { elect, leaders, LockLost } from "maekawa-client";
import { Cluster, maekawaBin, since, waitFor, within } from "./cluster.mjs";

/** Runs `leaders` in the background, collecting what it yields, until `stop()`. */
function watch(name, opts) {
  const controller = new AbortController();
  const seen = [];
  const done = (async () => {
    for await (const leader of leaders(name, { ...opts, signal: controller.signal })) seen.push(leader);
  })();
  return { seen, stop: () => (controller.abort(), done) };
}

test("A leads, kill -9 its daemon: A is lost, B leads within 8 s, the watcher saw A then B", async (t) => {
  const cluster = await Cluster.start();
  const watcher = watch("leader", { config: cluster.config, intervalMs: 100 });
  try {
    const a = await elect("leader", "candidate-A", { node: 0, config: cluster.config });
    assert.equal(a.node, 0);
    let bLeads;
    const b = elect("leader", "candidate-B", { node: 1, config: cluster.config }).then((held) => {
      bLeads = performance.now();
      return held;
    });
    await waitFor("the watcher to see A", 5000, () => watcher.seen.length === 1);
    assert.deepEqual(watcher.seen[0], { value: "candidate-A", node: 0, token: a.token, session: a.session });
    assert.equal(bLeads, undefined, "B leads while A does");

    const t0 = performance.now();
    const aLost = new Promise((res) => a.lost.addEventListener("abort", () => res(since(t0)), { once: true }));
    process.kill(cluster.pid(0), "SIGKILL");
    const lostMs = await aLost;
    assert.ok(a.lost.reason instanceof LockLost);
    const heldB = await within("B to lead", 8000, b);
    const failover = Math.round((bLeads - t0) * 10) / 10;
    t.diagnostic(`A lost ${lostMs} ms after kill -9 of node 0; B led ${failover} ms after it (failover)`);
    assert.ok(failover < 8000, `failover took ${failover} ms`);
    assert.ok(heldB.token > a.token, `B's term ${heldB.token} after A's ${a.token}`);
    await waitFor("the watcher to see B", 5000, () => watcher.seen.length === 2);
    assert.deepEqual(watcher.seen.map((l) => l.value), ["candidate-A", "candidate-B"]);
    assert.deepEqual(watcher.seen[1], { value: "candidate-B", node: 1, token: heldB.token, session: heldB.session });
    await heldB.release();
  } finally {
    await watcher.stop();
    await cluster.stop();
  }
});

test("a watcher started after the election yields the current leader first; `maekawa elect` and this package see each other's candidates", async () => {
  const cluster = await Cluster.start();
  const cli = spawn(maekawaBin(), ["elect", "svc", "from-the-cli", "--node", "2", "--config", cluster.config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  cli.stdout.on("data", (d) => (out += d));
  const exited = new Promise((res) => cli.once("exit", res));
  try {
    await waitFor("`maekawa elect` to lead", 10000, () => out.startsWith("svc "));
    const watcher = watch("svc", { config: cluster.config });
    try {
      await waitFor("the watcher to see the CLI's candidate", 5000, () => watcher.seen.length === 1);
      assert.equal(watcher.seen[0].value, "from-the-cli");
      assert.equal(watcher.seen[0].node, 2);
      assert.equal(watcher.seen[0].token, Number(out.trim().split(" ")[1]));
    } finally {
      await watcher.stop();
    }
    // And the other way: this package's candidate, as `maekawa elect --watch --json` sees it.
    const ours = await elect("svc2", "from-node", { node: 0, config: cluster.config });
    const cliWatch = spawn(maekawaBin(), ["elect", "svc2", "--watch", "--json", "--config", cluster.config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let seen = "";
    cliWatch.stdout.on("data", (d) => (seen += d));
    const watcherExited = new Promise((res) => cliWatch.once("exit", res));
    try {
      await waitFor("`maekawa elect --watch` to print our candidate", 5000, () => seen.includes("\n"));
      const first = JSON.parse(seen.split("\n")[0]);
      assert.equal(first.value, "from-node");
      assert.equal(first.node, 0);
      assert.equal(first.token, ours.token);
    } finally {
      cliWatch.kill("SIGTERM");
      await watcherExited;
      await ours.release();
    }
  } finally {
    cli.kill("SIGTERM");
    await exited;
    await cluster.stop();
  }
});
