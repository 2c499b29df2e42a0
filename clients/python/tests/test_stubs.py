"""The committed stubs are what gen.sh makes of wire/proto/maekawa.proto with the pinned
grpcio-tools, and the package's lower bounds are the versions those stubs require: a proto
change without regeneration, or a regeneration without raising the bounds, fails here."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PACKAGE

STUBS = PACKAGE / "maekawa" / "_proto"
FILES = ["maekawa_pb2.py", "maekawa_pb2.pyi", "maekawa_pb2_grpc.py"]


def pinned(package: str) -> str:
    for line in (PACKAGE / "requirements-test.txt").read_text().splitlines():
        m = re.fullmatch(rf"{re.escape(package)}==(\S+)", line.strip())
        if m:
            return m.group(1)
    raise AssertionError(f"requirements-test.txt does not pin {package}")


def test_the_pinned_grpcio_tools_is_the_one_installed():
    from importlib.metadata import version

    assert version("grpcio-tools") == pinned(
        "grpcio-tools"
    ), "install the pinned generator: pip install -r clients/python/requirements-test.txt"


def test_committed_stubs_are_what_gen_sh_makes_of_the_proto(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    subprocess.run(["bash", str(PACKAGE / "gen.sh"), str(tmp_path)], check=True, env=env)
    for name in FILES:
        fresh = (tmp_path / name).read_text()
        committed = (STUBS / name).read_text()
        assert fresh == committed, (
            f"maekawa/_proto/{name} is not what gen.sh makes of wire/proto/maekawa.proto: "
            "run clients/python/gen.sh and commit the result"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)


def test_stub_imports_are_package_relative():
    grpc_stub = (STUBS / "maekawa_pb2_grpc.py").read_text()
    assert "from . import maekawa_pb2 as maekawa__pb2" in grpc_stub
    assert not re.search(r"^import maekawa_pb2", grpc_stub, re.M)


def test_lower_bounds_are_the_versions_the_stubs_require():
    pyproject = (PACKAGE / "pyproject.toml").read_text()
    grpc_stub = (STUBS / "maekawa_pb2_grpc.py").read_text()
    pb_stub = (STUBS / "maekawa_pb2.py").read_text()
    grpc_needs = re.search(r"GRPC_GENERATED_VERSION = '([^']+)'", grpc_stub).group(1)
    pb_needs = re.search(r"# Protobuf Python Version: (\S+)", pb_stub).group(1)
    assert f'"grpcio>={grpc_needs}"' in pyproject, f"pyproject.toml must say grpcio>={grpc_needs}"
    assert f'"protobuf>={pb_needs}"' in pyproject, f"pyproject.toml must say protobuf>={pb_needs}"


@pytest.mark.skipif(os.environ.get("MAEKAWA_TEST_INSTALLED") != "1", reason="test.sh sets it")
def test_the_package_under_test_is_the_installed_one():
    import maekawa

    here = Path(maekawa.__file__).resolve()
    assert PACKAGE / "maekawa" not in here.parents, f"imported from the source tree: {here}"
