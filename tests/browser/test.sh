#!/usr/bin/env bash
# The browser test of `maekawa watch` (issue 29), as .ci/run runs it after `cargo test
# --release` has built target/release/maekawa (MAEKAWA_BIN overrides): Debian's Chromium
# (installed with apt-get when /usr/bin/chromium is missing; no browser is ever downloaded by
# npm), playwright-core from the committed lock file, then watch.test.mjs against real daemons.
# MAEKAWA_SCREENSHOT=docs/watch.png writes the live page's screenshot there (relative paths are
# taken from the directory this is run from). Works from any directory; non-zero on failure.
set -euo pipefail
for v in MAEKAWA_BIN MAEKAWA_SCREENSHOT; do
  if [ -n "${!v:-}" ]; then export "$v=$(realpath -m -- "${!v}")"; fi
done
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "error: /usr/bin/chromium is missing (apt-get install chromium, as root)" >&2
    exit 1
  fi
fi
if ! command -v npm >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund --loglevel=error
# One test at a time: each starts its own daemons and measures latencies.
exec node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec watch.test.mjs
