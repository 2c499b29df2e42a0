// dist/ is committed (a folder install then needs no build step and no install script:
// README, "Install"), so it must be what src/ compiles to: compile into a temporary directory
// and compare file by file.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PKG, tempDir } from "./cluster.mjs";

test("the committed dist/ is what src/ compiles to", () => {
  const out = tempDir("maekawa-node-dist-");
  try {
    const tsc = join(PKG, "node_modules", "typescript", "bin", "tsc");
    execFileSync(process.execPath, [tsc, "-p", join(PKG, "tsconfig.json"), "--outDir", out], { stdio: "pipe" });
    const fresh = readdirSync(out).sort();
    const committed = readdirSync(join(PKG, "dist")).sort();
    const stale = "clients/node/dist/ is stale: run `npm run build` in clients/node and commit dist/";
    assert.deepEqual(committed, fresh, stale);
    for (const f of fresh) {
      assert.equal(readFileSync(join(PKG, "dist", f), "utf8"), readFileSync(join(out, f), "utf8"), `${stale} (${f} differs)`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
