// A semaphore (limit 2) over 3 daemons: 6 clients take it 5 times each and hold it ~20 ms.
// Never more than 2 holders at once (and 2 at least once), each holder on slot 1 or 2, and
// each slot's tokens growing from one holder to the next.

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { lock } from "maekawa-client";
import { Cluster, since } from "./cluster.mjs";

test("limit 2, 6 clients x 5: at most 2 holders, slot tokens increasing", async (t) => {
  const cluster = await Cluster.start();
  try {
    let holders = 0;
    let most = 0;
    const last = new Map(); // slot -> its last holder's token
    const t0 = performance.now();
    const client = async (i) => {
      for (let k = 0; k < 5; k++) {
        const held = await lock("pool", { node: i % 3, config: cluster.config, limit: 2, timeoutMs: 60000 });
        try {
          holders += 1;
          most = Math.max(most, holders);
          assert.ok(holders <= 2, `${holders} holders at once`);
          assert.ok(held.slot === 1 || held.slot === 2, `slot ${held.slot}`);
          const before = last.get(held.slot) ?? 0;
          assert.ok(held.token > before, `slot ${held.slot}: token ${held.token} after ${before}`);
          last.set(held.slot, held.token);
          await sleep(20);
          assert.equal(held.lost.aborted, false);
          holders -= 1;
        } finally {
          await held.release();
        }
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5].map(client));
    t.diagnostic(`30 semaphore holds (limit 2) in ${since(t0)} ms; most holders at once: ${most}`);
    assert.equal(most, 2, "the two slots were never held at once");
    assert.deepEqual([...last.keys()].sort(), [1, 2]);
  } finally {
    await cluster.stop();
  }
});
