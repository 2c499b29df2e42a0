// Mutual exclusion, seen from outside: three Node processes (this package) and three
// `maekawa lock` loops, through nodes 0, 1 and 2 at once, each increment a shared counter file
// ten times under lock "counter": no update is lost, and the fencing tokens written under the
// lock only grow, in file order, across both kinds of client.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Cluster, maekawaBin, PKG, run, since } from "./cluster.mjs";

test("3 Node processes and 3 `maekawa lock` loops: counter 60, tokens strictly increasing", async (t) => {
  const cluster = await Cluster.start();
  try {
    const counter = join(cluster.dir, "count");
    const tokens = join(cluster.dir, "tokens");
    writeFileSync(counter, "0\n");
    writeFileSync(tokens, "");
    const worker = join(PKG, "test", "fixtures", "increment.mjs");
    const script =
      'for k in 1 2 3 4 5 6 7 8 9 10; do "$BIN" lock counter --node "$ID" --config "$CONFIG" -- ' +
      `sh -c 'n=$(cat "$COUNTER"); echo $((n+1)) > "$COUNTER"; echo "$MAEKAWA_LOCK_TOKEN cli $MAEKAWA_LOCK_NODE" >> "$TOKENS"' || exit $?; done`;
    const t0 = performance.now();
    const runs = [0, 1, 2].flatMap((id) => [
      run(process.execPath, [worker, cluster.config, String(id), "counter", counter, tokens, "10"], { ms: 120000 }),
      run("sh", ["-c", script], {
        ms: 120000,
        env: { ...process.env, BIN: maekawaBin(), ID: String(id), CONFIG: cluster.config, COUNTER: counter, TOKENS: tokens },
      }),
    ]);
    for (const r of await Promise.all(runs)) {
      assert.equal(r.code, 0, `a worker failed: ${r.stdout}${r.stderr}`);
    }
    t.diagnostic(`60 locked increments by 6 processes in ${since(t0)} ms`);
    assert.equal(readFileSync(counter, "utf8").trim(), "60");
    const lines = readFileSync(tokens, "utf8").trim().split("\n");
    assert.equal(lines.length, 60);
    assert.equal(lines.filter((l) => l.includes(" cli ")).length, 30);
    const seen = lines.map((l) => Number(l.split(" ")[0]));
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i] > seen[i - 1], `token ${seen[i]} (line ${i + 1}) after ${seen[i - 1]}`);
    }
  } finally {
    await cluster.stop();
  }
});
