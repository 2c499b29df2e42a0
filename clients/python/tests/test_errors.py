"""Errors a caller meets without a working daemon: each typed, each one line, worded as the
Rust client's, and raised before any connection when the input alone is wrong."""

import json
import socket
import time

import pytest

import maekawa
from conftest import free_ports
from maekawa.errors import format_duration


@pytest.mark.parametrize(
    "name, why",
    [
        ("", "it is empty"),
        ("a b", "it contains ' ' at byte 1"),
        ("tab\t", "it contains '\\t' at byte 3"),
        ("é", "it contains 'é' at byte 0"),
        ("x" * 129, "it is 129 bytes long"),
    ],
)
def test_a_bad_name_raises_invalid_name_without_contacting_a_daemon(name, why):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        addr = "127.0.0.1:%d" % listener.getsockname()[1]
        with pytest.raises(maekawa.InvalidName) as e:
            with maekawa.lock(name, addr=addr):
                pass
        listener.settimeout(0.2)
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody connected
    msg = str(e.value)
    assert why in msg, msg
    assert msg.endswith("; a lock name is 1 to 128 bytes of printable ASCII without spaces")
    assert "\n" not in msg
    assert isinstance(e.value, ValueError) and isinstance(e.value, maekawa.MaekawaError)


def test_good_names_pass():
    for name in ["counter", "a/b:c-d_e.f~!", "x" * 128]:
        maekawa.validate_name(name)


def test_an_unreachable_daemon_raises_unreachable_quickly_naming_it():
    (port,) = free_ports(1)
    addr = f"127.0.0.1:{port}"
    start = time.monotonic()
    with pytest.raises(maekawa.Unreachable) as e:
        maekawa.lock("counter", addr=addr, timeout=5).acquire()
    took = time.monotonic() - start
    msg = str(e.value)
    print(f"\nunreachable raised after {took * 1000:.0f} ms: {msg}")
    assert took < 2.5, f"took {took:.2f}s"
    assert msg.startswith(f"cannot reach the daemon at {addr}: "), msg
    assert msg.endswith("; is the node running?"), msg
    assert "\n" not in msg


def test_a_peer_that_never_answers_is_unreachable_after_the_2_s_connect_timeout():
    with socket.socket() as silent:  # the kernel accepts connections; nobody speaks HTTP/2
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        addr = "127.0.0.1:%d" % silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(maekawa.Unreachable) as e:
            maekawa.lock("counter", addr=addr).acquire()
        took = time.monotonic() - start
    print(f"\nsilent peer: unreachable after {took:.2f} s: {e.value}")
    assert 1.5 < took < 4, f"took {took:.2f}s"
    assert str(e.value).startswith(f"cannot reach the daemon at {addr}: ")


def test_an_unknown_node_id_is_a_config_error_naming_the_file_and_its_ids(tmp_path):
    config = tmp_path / "q.json"
    config.write_text(
        json.dumps({"nodes": [{"id": 0, "addr": "127.0.0.1:1"}, {"id": 2, "addr": "127.0.0.1:2"}]})
    )
    with pytest.raises(maekawa.ConfigError) as e:
        maekawa.lock("counter", node=7, config=str(config)).acquire()
    assert str(e.value) == f"{config}: id 7 is not in the file; use one of 0, 2 or add it to nodes"


def test_a_missing_or_broken_cluster_file_is_a_config_error(tmp_path):
    missing = tmp_path / "none.json"
    with pytest.raises(maekawa.ConfigError, match=r"none\.json: file not found; create it"):
        maekawa.lock("counter", node=0, config=str(missing)).acquire()
    broken = tmp_path / "broken.json"
    broken.write_text('{"nodes": [\n  {"id": 0,,}]}')
    with pytest.raises(
        maekawa.ConfigError,
        match=r"broken\.json: line 2 column \d+: invalid JSON: .*; fix the syntax there",
    ):
        maekawa.lock("counter", node=0, config=str(broken)).acquire()


def test_plaintext_to_a_non_loopback_address_needs_certificates_or_insecure(tmp_path):
    config = tmp_path / "q.json"
    config.write_text(json.dumps({"nodes": [{"id": 0, "addr": "10.1.2.3:50051"}]}))
    with pytest.raises(maekawa.TlsError) as e:
        maekawa.lock("counter", node=0, config=str(config)).acquire()
    msg = str(e.value)
    assert msg.startswith(f"{config}: node addresses are not all loopback (10.1.2.3:50051)"), msg
    assert f"`maekawa certs init --config {config}`" in msg and "insecure=True" in msg, msg


def test_a_certificates_directory_without_the_identity_is_a_tls_error(tmp_path):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("not really a CA")
    config = tmp_path / "q.json"
    config.write_text(json.dumps({"nodes": [{"id": 0, "addr": "127.0.0.1:1"}]}))
    with pytest.raises(
        maekawa.TlsError,
        match=r"client\.key: cannot read \(No such file or directory\); make the certificates with `maekawa certs init",
    ):
        maekawa.lock("counter", node=0, config=str(config)).acquire()


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="exactly one of addr"):
        maekawa.lock("x")
    with pytest.raises(ValueError, match="exactly one of addr"):
        maekawa.lock("x", addr="127.0.0.1:1", node=0)
    with pytest.raises(ValueError, match="timeout"):
        maekawa.lock("x", addr="127.0.0.1:1", timeout=-1)
    with pytest.raises(ValueError, match=r"^invalid limit 65: a semaphore has 1 to 64 slots$"):
        maekawa.lock("x", addr="127.0.0.1:1", limit=65)


def test_durations_read_as_the_rust_client_prints_them():
    assert format_duration(0) == "0s"
    assert format_duration(0.5) == "500ms"
    assert format_duration(5) == "5s"
    assert format_duration(65.25) == "1m 5s 250ms"
