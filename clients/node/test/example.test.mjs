// What a user runs: the README's example (examples/hold.mts: `await using`, compiled by tsc as
// a user's program is) against a real daemon; and the package installed from this folder into
// another project as README "Install" says, with the README's plain-JavaScript program.

import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { lock } from "maekawa-client";
import { Cluster, PKG, run, tempDir } from "./cluster.mjs";

let cluster;
before(async () => {
  cluster = await Cluster.start();
});
after(async () => {
  await cluster?.stop();
});

/** The lock is free again: a try-once takes it. */
async function assertFree(name) {
  const held = await lock(name, { addr: cluster.addr(0), timeoutMs: 0 });
  await held.release();
}

test("examples/hold.mts compiles and prints its token; `await using` released the lock", async () => {
  const tsc = join(PKG, "node_modules", "typescript", "bin", "tsc");
  const built = await run(process.execPath, [tsc, "-p", join(PKG, "examples", "tsconfig.json")]);
  assert.equal(built.code, 0, `tsc failed: ${built.stdout}${built.stderr}`);
  const ran = await run(process.execPath, [join(PKG, "examples", "build", "hold.mjs"), cluster.addr(1)], { ms: 20000 });
  assert.equal(ran.code, 0, `the example failed: ${ran.stdout}${ran.stderr}`);
  assert.match(ran.stdout, /^holding counter with fencing token \d+\n$/);
  await assertFree("counter");
});

test("npm install --install-links of this folder into another project, and a ten-line program", async (t) => {
  const app = tempDir("maekawa-node-app-");
  t.after(() => rmSync(app, { recursive: true, force: true }));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const t0 = performance.now();
  const installed = await run(npm, ["install", "--install-links", "--prefer-offline", "--no-audit", "--no-fund", PKG], {
    cwd: app,
    ms: 180000,
  });
  assert.equal(installed.code, 0, `npm install failed: ${installed.stdout}${installed.stderr}`);
  t.diagnostic(`npm install --install-links took ${Math.round(performance.now() - t0)} ms`);
  writeFileSync(
    join(app, "hold.mjs"),
    `import { lock } from "maekawa-client";

const held = await lock("installed", { addr: process.argv[2], timeoutMs: 5000 });
try {
  console.log(\`holding \${held.name} with fencing token \${held.token}\`);
  // the work under the lock: pass held.token to the resource, stop if held.lost aborts
} finally {
  await held.release();
}
`,
  );
  const ran = await run(process.execPath, ["hold.mjs", cluster.addr(2)], { cwd: app, ms: 20000 });
  assert.equal(ran.code, 0, `the program failed: ${ran.stdout}${ran.stderr}`);
  assert.match(ran.stdout, /^holding installed with fencing token \d+\n$/);
  const cjs = await run(process.execPath, ["-e", 'console.log(typeof require("maekawa-client").lock)'], { cwd: app });
  assert.equal(cjs.stdout, "function\n", "require() works too");
  await assertFree("installed");
});
