// The package carries its own copy of the wire protocol (npm packs only this folder); it must
// be the repository's, byte for byte, or a proto change would ship a client of the old one.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PKG, REPO } from "./cluster.mjs";

test("proto/maekawa.proto is a byte-identical copy of wire/proto/maekawa.proto", () => {
  const copy = readFileSync(join(PKG, "proto", "maekawa.proto"));
  const wire = readFileSync(join(REPO, "wire", "proto", "maekawa.proto"));
  assert.ok(
    copy.equals(wire),
    "clients/node/proto/maekawa.proto differs from wire/proto/maekawa.proto: " +
      "run `cp wire/proto/maekawa.proto clients/node/proto/` and commit it",
  );
});
