"""AUTH and TLS end to end: a redis-server that speaks only TLS and wants a password.

The worker, beat and client reach it with one ``rediss://`` URL (Redis and broker
alike) that checks the server's certificate against a private CA; wrong credentials
and an unverifiable certificate are refused with errors that say so.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from flyteidl.core import tasks_pb2

from plugins.core import Phase
from scheduler import AccessDeniedError, BackendUnavailableError, Client, Settings
from tests.helpers import free_port, wait_for
from tests.integration.stack import Stack
from tests.tasks import sample

PASSWORD = "tls-test-pw-7f3a"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    ca_key, ca, key, csr, cert = (
        directory / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem")
    )
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=flyte-celery test CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(key), "-out", str(csr))  # fmt: skip
    extensions = directory / "san.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "2", "-extfile", str(extensions),
             "-out", str(cert))  # fmt: skip
    return ca, cert, key


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not installed (apt-get install openssl)")
    ca, cert, key = _certificates(tmp_path)
    port = free_port()
    args = ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(cert), "--tls-key-file", str(key),
            "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
            "--requirepass", PASSWORD, "--save", "", "--appendonly", "no",
            "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log")]  # fmt: skip
    process = subprocess.Popen(args)
    try:
        probe = redis.Redis(
            host="127.0.0.1", port=port, password=PASSWORD, ssl=True, ssl_ca_certs=str(ca)
        )
        wait_for(lambda: _pings(probe), timeout=30, what="the TLS redis-server")
        probe.close()
        yield port, ca
    finally:
        process.terminate()
        process.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _url(port: int, ca: Path, password: str = PASSWORD, cert_reqs: str = "required") -> str:
    query = f"ssl_cert_reqs={cert_reqs}&ssl_ca_certs={quote(str(ca))}"
    return f"rediss://:{password}@127.0.0.1:{port}/0?{query}"


def test_a_stack_runs_over_tls_with_auth(tls_redis: tuple[int, Path], tmp_path: Path) -> None:
    port, ca = tls_redis
    stack = Stack(_url(port, ca), tmp_path, "http://127.0.0.1:9")
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        client = stack.client()
        echo = client.submit(tasks_pb2.TaskTemplate(type="echo"))
        total = client.submit(sample.add, {"a": 40, "b": 2})
        assert echo.wait(120) is Phase.SUCCESS
        assert total.result(timeout=120) == 42
        # The password never reaches a log line.
        for name in ("w1", "beat"):
            assert PASSWORD not in stack.log(name).read_text(errors="replace")
    finally:
        stack.stop()


def test_wrong_credentials_and_certificates_are_refused_clearly(
    tls_redis: tuple[int, Path], tmp_path: Path
) -> None:
    port, ca = tls_redis
    storage = f"file://{tmp_path}/storage"
    wrong_password = Client.from_settings(
        Settings(redis_url=_url(port, ca, password="nope"), storage=storage)
    )
    with pytest.raises(AccessDeniedError, match="FLYTE_CELERY_REDIS_URL"):
        wrong_password.list()
    stranger_ca = tmp_path / "other-ca"
    stranger_ca.mkdir()
    other_ca, _, _ = _certificates(stranger_ca)
    untrusted = Client.from_settings(Settings(redis_url=_url(port, other_ca), storage=storage))
    with pytest.raises(BackendUnavailableError, match=r"(?i)certificate verify failed"):
        untrusted.list()
    # Celery's spelling of the same check is accepted too.
    celery_spelling = Client.from_settings(
        Settings(redis_url=_url(port, ca, cert_reqs="CERT_REQUIRED"), storage=storage)
    )
    assert celery_spelling.list() == []
