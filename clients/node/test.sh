#!/usr/bin/env bash
# The Node client's CI step (.ci/run calls it after `cargo test --release` has built
# target/release/maekawa; MAEKAWA_BIN overrides the binary): install the locked dependencies,
# then run every test against real daemons. The build is checked by the tests themselves:
# test/dist.test.mjs compiles src/ and compares it with the committed dist/, and
# test/example.test.mjs compiles and runs the example. Works from any directory; exits
# non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
# One test file at a time: each starts its own daemons and measures latencies, which two
# files at once on a small machine would blur.
exec node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec test/*.test.mjs
