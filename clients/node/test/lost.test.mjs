// A held lock whose daemon dies is reported lost at once (the connection closes), and one
// whose daemon stops answering (a frozen or vanished host: SIGSTOP here) within about 3 s, by
// the channel's keepalive (a ping every second, 2 s to answer). The figures are printed.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { lock, LockLost } from "maekawa-client";
import { Cluster, since } from "./cluster.mjs";

let cluster;
before(async () => {
  cluster = await Cluster.start();
});
after(async () => {
  await cluster?.stop();
});

/** Resolves with the ms from now until `signal` aborts. */
function abortedAfter(signal) {
  const t0 = performance.now();
  return new Promise((res) => signal.addEventListener("abort", () => res(since(t0)), { once: true }));
}

test("kill -9 of the daemon: lost fires within 3 s, and release() then throws LockLost", async (t) => {
  const held = await lock("lost", { node: 1, config: cluster.config, timeoutMs: 5000 });
  const lost = abortedAfter(held.lost);
  process.kill(cluster.pid(1), "SIGKILL");
  const ms = await lost;
  t.diagnostic(`lost latency after kill -9 of the daemon: ${ms} ms`);
  assert.ok(ms < 3000, `lost after ${ms} ms`);
  assert.ok(held.lost.reason instanceof LockLost, String(held.lost.reason));
  assert.match(held.lost.reason.message, new RegExp(`^lock lost \\(token ${held.token}\\) was lost: the session broke: `));
  await assert.rejects(held.release(), (e) => e === held.lost.reason);
  await assert.rejects(held[Symbol.asyncDispose](), LockLost);
  await cluster.kill(1);
});

test("a daemon that stops answering (SIGSTOP): lost fires within about 3 s (keepalive)", async (t) => {
  const held = await lock("frozen", { node: 2, config: cluster.config, timeoutMs: 5000 });
  const lost = abortedAfter(held.lost);
  process.kill(cluster.pid(2), "SIGSTOP");
  try {
    const ms = await lost;
    t.diagnostic(`lost latency after SIGSTOP of the daemon: ${ms} ms`);
    assert.ok(ms < 4000, `lost after ${ms} ms (keepalive: 1 s + 2 s)`);
    assert.ok(held.lost.reason instanceof LockLost, String(held.lost.reason));
  } finally {
    process.kill(cluster.pid(2), "SIGCONT");
  }
});
