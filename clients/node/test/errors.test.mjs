// The typed errors, their one-line messages (worded as the Rust client's), and that each is
// raised where it should be: bad names and options before any connection, Unreachable
// quickly, TimedOut and Refused from a real daemon.

import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ConfigError,
  InvalidName,
  listLocks,
  lock,
  MaekawaError,
  Refused,
  TimedOut,
  TlsError,
  Unreachable,
  validateName,
} from "maekawa-client";
import { Cluster, freePorts, since, tempDir, waitFor } from "./cluster.mjs";

/** A TCP server that counts connections and never answers. */
async function silentServer() {
  const [port] = await freePorts(1);
  const sockets = [];
  const server = createServer((s) => sockets.push(s));
  await new Promise((res) => server.listen(port, "127.0.0.1", res));
  return {
    addr: `127.0.0.1:${port}`,
    connections: () => sockets.length,
    close: () => {
      sockets.forEach((s) => s.destroy());
      return new Promise((res) => server.close(res));
    },
  };
}

describe("without a daemon", () => {
  test("a bad name raises InvalidName without contacting the daemon", async () => {
    const server = await silentServer();
    try {
      const cases = [
        ["", "it is empty"],
        ["a b", "it contains ' ' at byte 1"],
        ["tab\t", "it contains '\\t' at byte 3"],
        ["é", "it contains 'é' at byte 0"],
        ["x".repeat(129), "it is 129 bytes long"],
      ];
      for (const [name, why] of cases) {
        const err = await lock(name, { addr: server.addr }).then(
          () => assert.fail(`${JSON.stringify(name)} was accepted`),
          (e) => e,
        );
        assert.ok(err instanceof InvalidName && err instanceof MaekawaError, String(err));
        assert.ok(err.message.includes(why), err.message);
        assert.ok(err.message.endsWith("; a lock name is 1 to 128 bytes of printable ASCII without spaces"), err.message);
        assert.ok(!err.message.includes("\n"));
      }
      assert.equal(
        (await lock("a b", { addr: server.addr }).catch((e) => e)).message,
        'invalid lock name "a b": it contains \' \' at byte 1; a lock name is 1 to 128 bytes of printable ASCII without spaces',
      );
      validateName("a/b:c-d_e.f~!");
      validateName("x".repeat(128));
      assert.equal(server.connections(), 0, "a bad name must not open a connection");
    } finally {
      await server.close();
    }
  });

  test("an unreachable address raises Unreachable quickly, naming the daemon", async (t) => {
    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const t0 = performance.now();
    const err = await lock("counter", { addr }).catch((e) => e);
    const ms = since(t0);
    t.diagnostic(`unreachable (connection refused) reported after ${ms} ms`);
    assert.ok(err instanceof Unreachable, String(err));
    assert.ok(err.message.startsWith(`cannot reach the daemon at ${addr}: `), err.message);
    assert.ok(err.message.endsWith("; is the node running?"), err.message);
    assert.ok(err.message.includes("ECONNREFUSED"), err.message);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  test("a server that accepts and never answers raises Unreachable after the 2 s connect timeout", async (t) => {
    const server = await silentServer();
    try {
      const t0 = performance.now();
      const err = await lock("counter", { addr: server.addr }).catch((e) => e);
      const ms = since(t0);
      t.diagnostic(`unreachable (silent server) reported after ${ms} ms`);
      assert.ok(err instanceof Unreachable, String(err));
      assert.equal(err.message, `cannot reach the daemon at ${server.addr}: no connection within 2s; is the node running?`);
      assert.ok(ms >= 1900 && ms < 4000, `took ${ms} ms`);
    } finally {
      await server.close();
    }
  });

  test("options that name no daemon, or a node the cluster file lacks, raise ConfigError", async () => {
    const dir = tempDir();
    const config = join(dir, "quorums.json");
    writeFileSync(config, JSON.stringify({ nodes: [{ id: 0, addr: "127.0.0.1:1" }, { id: 2, addr: "127.0.0.1:2" }] }));
    const cases = [
      [{}, "give exactly one of addr (the daemon's HOST:PORT) and node (its id in the cluster file)"],
      [{ addr: "127.0.0.1:1", node: 0, config }, "give exactly one of addr"],
      [{ node: 1, config }, `${config}: id 1 is not in the file; use one of 0, 2 or add it to nodes`],
      [{ node: 0, config: join(dir, "missing.json") }, `${join(dir, "missing.json")}: file not found; `],
      [{ addr: "127.0.0.1" }, 'invalid daemon address "127.0.0.1": not HOST:PORT; give it as HOST:PORT (e.g. 127.0.0.1:50051)'],
    ];
    for (const [opts, text] of cases) {
      const err = await lock("counter", opts).catch((e) => e);
      assert.ok(err instanceof ConfigError, `${JSON.stringify(opts)}: ${err}`);
      assert.ok(err.message.startsWith(text), err.message);
    }
    writeFileSync(config, "{ nodes: ");
    const err = await lock("counter", { node: 0, config }).catch((e) => e);
    assert.ok(err instanceof ConfigError && err.message.startsWith(`${config}: invalid JSON: `), String(err));
    rmSync(dir, { recursive: true });
  });

  test("a timeoutMs or limit that is not a count throws RangeError", async () => {
    for (const opts of [{ timeoutMs: -1 }, { timeoutMs: NaN }, { limit: 1.5 }, { limit: 0 }]) {
      await assert.rejects(lock("counter", { addr: "127.0.0.1:1", ...opts }), RangeError, JSON.stringify(opts));
    }
  });

  test("plaintext to a non-loopback cluster without certificates raises TlsError naming the fix", async () => {
    const dir = tempDir();
    const config = join(dir, "quorums.json");
    writeFileSync(config, JSON.stringify({ nodes: [{ id: 0, addr: "127.0.0.1:1" }, { id: 1, addr: "10.1.2.3:50052" }] }));
    const err = await lock("counter", { node: 0, config }).catch((e) => e);
    assert.ok(err instanceof TlsError, String(err));
    assert.equal(
      err.message,
      `${config}: node addresses are not all loopback (10.1.2.3:50052) and ${join(dir, "certs")} has no ca.pem: make certificates with \`maekawa certs init --config ${config}\`, or pass insecure: true to send everything in plaintext`,
    );
    // With addr, only that address counts; insecure forces plaintext (and the connection is
    // then refused: nothing listens on port 1).
    assert.ok((await lock("counter", { addr: "10.1.2.3:1", config }).catch((e) => e)) instanceof TlsError);
    assert.ok((await lock("counter", { addr: "127.0.0.1:1", config }).catch((e) => e)) instanceof Unreachable);
    assert.ok((await lock("counter", { node: 0, config, insecure: true }).catch((e) => e)) instanceof Unreachable);
    rmSync(dir, { recursive: true });
  });
});

describe("against real daemons", () => {
  let cluster;
  before(async () => {
    cluster = await Cluster.start();
  });
  after(async () => {
    await cluster?.stop();
  });

  test("try once (timeoutMs 0) on a held lock raises TimedOut naming the node", async () => {
    const held = await lock("busy", { node: 0, config: cluster.config, timeoutMs: 5000 });
    try {
      const err = await lock("busy", { node: 1, config: cluster.config, timeoutMs: 0 }).catch((e) => e);
      assert.ok(err instanceof TimedOut, String(err));
      assert.equal(err.message, `timed out after 0s waiting for lock busy at node 1 at ${cluster.addr(1)}`);
      // A bounded wait gives up after about its timeout.
      const t0 = performance.now();
      const late = await lock("busy", { addr: cluster.addr(2), timeoutMs: 300 }).catch((e) => e);
      assert.ok(late instanceof TimedOut, String(late));
      assert.ok(late.message.startsWith("timed out after 3"), late.message);
      assert.ok(late.message.endsWith(` waiting for lock busy at the daemon at ${cluster.addr(2)}`), late.message);
      assert.ok(since(t0) >= 290, `gave up after ${since(t0)} ms`);
    } finally {
      await held.release();
    }
    // Released: the next try-once gets it.
    const again = await lock("busy", { node: 1, config: cluster.config, timeoutMs: 0 });
    await again.release();
  });

  test("a name the daemon refuses raises Refused with its reason", async () => {
    const err = await lock("cs", { node: 2, config: cluster.config }).catch((e) => e);
    assert.ok(err instanceof Refused, String(err));
    assert.ok(err.message.startsWith(`node 2 at ${cluster.addr(2)} refused: `), err.message);
    assert.equal(err.code, 3); // INVALID_ARGUMENT
  });

  test("the signal abandons a wait: the promise rejects with its reason, the daemon drops the waiter", async () => {
    const held = await lock("waited", { node: 0, config: cluster.config });
    try {
      const controller = new AbortController();
      const waiting = lock("waited", { node: 0, config: cluster.config, signal: controller.signal, client: "abandoned" });
      await lockState(cluster, 0, "waited", (l) => l.waiting.some((w) => w.client === "abandoned"));
      controller.abort();
      const err = await waiting.catch((e) => e);
      assert.equal(err.name, "AbortError");
      await lockState(cluster, 0, "waited", (l) => l.waiting.length === 0);
      // An aborted signal refuses at once.
      await assert.rejects(lock("waited", { node: 0, config: cluster.config, signal: AbortSignal.abort() }), {
        name: "AbortError",
      });
    } finally {
      await held.release();
    }
  });

  test("release waits for Released, is idempotent, and try/finally frees the lock for the next holder", async () => {
    let token;
    const held = await lock("released", { node: 1, config: cluster.config, timeoutMs: 5000 });
    try {
      token = held.token;
      assert.equal(held.node, 1);
      assert.equal(held.slot, undefined);
      assert.ok(Number.isSafeInteger(held.session) && held.session > 0);
      assert.equal(held.lost.aborted, false);
      // The default label tells an operator (`maekawa locks`) which process holds it.
      const { locks } = await listLocks({ node: 1, config: cluster.config });
      assert.deepEqual(locks.find((l) => l.name === "released")?.holder, {
        session: held.session,
        client: `node pid ${process.pid} on ${hostname()}`,
      });
    } finally {
      await held.release();
    }
    await held.release();
    await held[Symbol.asyncDispose]();
    assert.equal(held.lost.aborted, false, "a released lock is not lost");
    const next = await lock("released", { node: 2, config: cluster.config, timeoutMs: 0 });
    try {
      assert.ok(next.token > token, `${next.token} after ${token}`);
    } finally {
      await next.release();
    }
  });
});

/** Waits until node `id` lists lock `name` in a state that satisfies `pred`. */
async function lockState(cluster, id, name, pred) {
  await waitFor(`lock ${name} at node ${id} to change`, 5000, async () => {
    const { locks } = await listLocks({ node: id, config: cluster.config });
    return pred(locks.find((l) => l.name === name) ?? { waiting: [], holder: undefined });
  });
}
