#!/usr/bin/env bash
# The Python client's tests, as CI runs them (after `cargo test --release` has built
# target/release/maekawa; MAEKAWA_BIN names another binary): a fresh venv in a temp dir,
# `pip install ./clients/python` with the test requirements, then pytest against real daemons.
# Works from any directory; exits non-zero when anything fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  ./clients/python -r clients/python/requirements-test.txt
# The repository root has no maekawa/ of its own: `import maekawa` finds the installed package,
# not the source tree (tests/test_stubs.py checks it when MAEKAWA_TEST_INSTALLED=1).
MAEKAWA_TEST_INSTALLED=1 "$tmp/venv/bin/python" -m pytest -v -s -p no:cacheprovider \
  clients/python/tests
