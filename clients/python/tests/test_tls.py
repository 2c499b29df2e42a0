"""A cluster with certificates (``maekawa certs init``): the client finds them beside the
cluster file and speaks mutual TLS, checks the daemon as ``maekawa``, and presents the
identity it is told to; the daemon refuses an identity without the right role."""

import pytest

import maekawa
from conftest import Cluster, within


@pytest.fixture
def tls_cluster(tmp_path):
    c = Cluster(tmp_path).certs_init().start()
    try:
        yield c
    finally:
        c.stop()
    c.check()


def test_a_lock_over_mutual_tls_with_the_certificates_beside_the_cluster_file(tls_cluster):
    c = tls_cluster
    with maekawa.lock("tls", node=0, config=c.config, timeout=5) as held:
        assert held.token > 0
        with pytest.raises(maekawa.TimedOut):
            maekawa.lock("tls", node=1, config=c.config, identity="admin", timeout=0).acquire()
    # addr= with an explicit certificates directory (no cluster file read).
    with maekawa.lock("tls", addr=c.addrs[2], certs=str(c.dir / "certs"), timeout=5) as again:
        assert again.token > held.token


def test_a_certificate_without_the_client_or_admin_role_is_refused(tls_cluster):
    c = tls_cluster
    with pytest.raises(maekawa.Refused) as e:
        maekawa.lock("tls", node=1, config=c.config, identity="node-2", timeout=5).acquire()
    assert str(e.value).startswith(f"node 1 at {c.addrs[1]} refused: "), str(e.value)


def test_leaders_are_watched_over_tls(tls_cluster):
    c = tls_cluster
    with maekawa.elect("tls-leader", "A", node=1, config=c.config) as term:
        gen = maekawa.leaders("tls-leader", config=c.config)
        try:
            assert within("the leader", 10, lambda: next(gen)) == maekawa.Leader(
                "A", 1, term.token, term.session
            )
        finally:
            gen.close()
