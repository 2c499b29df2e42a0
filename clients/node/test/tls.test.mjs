// Mutual TLS, chosen as the Rust CLI chooses: a cluster whose certs/ (beside the cluster file,
// made by `maekawa certs init`) holds ca.pem is spoken to in TLS as `client`, or as another
// identity; a node's certificate may not hold locks; a missing certificate is a TlsError.

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { leaders, listLocks, lock, Refused, TlsError, Unreachable } from "maekawa-client";
import { Cluster, freePorts, waitFor } from "./cluster.mjs";

let cluster;
before(async () => {
  cluster = await Cluster.start({ tls: true });
});
after(async () => {
  await cluster?.stop();
});

test("certs/ beside the cluster file: locks, lists and watches in mutual TLS as `client`", async () => {
  const held = await lock("secure", { node: 0, config: cluster.config, timeoutMs: 5000 });
  try {
    const { locks } = await listLocks({ node: 0, config: cluster.config });
    assert.equal(locks.find((l) => l.name === "secure")?.token, held.token);
    const controller = new AbortController();
    for await (const leader of leaders("secure", { config: cluster.config, signal: controller.signal })) {
      assert.equal(leader.token, held.token);
      controller.abort();
    }
  } finally {
    await held.release();
  }
});

test("an explicit certs directory and identity (admin) work with addr", async () => {
  const held = await lock("secure", { addr: cluster.addr(1), certs: join(cluster.dir, "certs"), identity: "admin" });
  await held.release();
});

test("a node certificate is refused, a missing one is a TlsError, plaintext does not connect", async () => {
  const asNode = await lock("secure", { node: 0, config: cluster.config, identity: "node-0" }).catch((e) => e);
  assert.ok(asNode instanceof Refused, String(asNode));
  assert.equal(asNode.code, 7); // PERMISSION_DENIED
  assert.ok(asNode.message.startsWith(`node 0 at ${cluster.addr(0)} refused: `), asNode.message);

  const missing = await lock("secure", { node: 0, config: cluster.config, identity: "nobody" }).catch((e) => e);
  assert.ok(missing instanceof TlsError, String(missing));
  const pem = join(cluster.dir, "certs", "nobody.pem");
  assert.ok(missing.message.startsWith(`${pem}: cannot read (`), missing.message);
  assert.ok(missing.message.endsWith(`; make the certificates with \`maekawa certs init --config ${cluster.config}\` (or pass certs: DIR)`), missing.message);

  const plain = await lock("secure", { node: 0, config: cluster.config, insecure: true }).catch((e) => e);
  assert.ok(plain instanceof Unreachable, String(plain));
  // Nothing was held by the refused attempts.
  await waitFor("no holder of `secure`", 5000, async () => {
    const { locks } = await listLocks({ node: 0, config: cluster.config });
    return !locks.some((l) => l.name === "secure" && l.holder);
  });
});

test("TLS to something that does not speak it: Unreachable saying the handshake failed", async () => {
  const [port] = await freePorts(1);
  const sockets = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.end("HTTP/1.1 400 Bad Request\r\n\r\n");
  });
  await new Promise((res) => server.listen(port, "127.0.0.1", res));
  try {
    const err = await lock("secure", { addr: `127.0.0.1:${port}`, certs: join(cluster.dir, "certs") }).catch((e) => e);
    assert.ok(err instanceof Unreachable, String(err));
    assert.match(
      err.message,
      /^cannot reach the daemon at 127\.0\.0\.1:\d+: the TLS handshake failed \(wrong version number\): does the daemon run with this cluster's certificates\?; is the node running\?$/,
    );
  } finally {
    sockets.forEach((s) => s.destroy());
    await new Promise((res) => server.close(res));
  }
});
