#!/usr/bin/env bash
# Regenerates the Python stubs of wire/proto/maekawa.proto into clients/python/maekawa/_proto
# (or into the directory given as $1), with the grpcio-tools pinned in requirements-test.txt:
#   pip install -r clients/python/requirements-test.txt && clients/python/gen.sh
# The stubs are committed so that `pip install ./clients/python` needs no code generator;
# tests/test_stubs.py fails when they differ from what this script makes of the proto.
# PYTHON names the interpreter that has grpcio-tools (default: python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here/maekawa/_proto}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$root/wire/proto"
"${PYTHON:-python3}" -m grpc_tools.protoc -I . \
  --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" maekawa.proto
# protoc writes a top-level import; the stubs live inside the package.
sed -i 's/^import maekawa_pb2 as maekawa__pb2$/from . import maekawa_pb2 as maekawa__pb2/' \
  "$out/maekawa_pb2_grpc.py"
