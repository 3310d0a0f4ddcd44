"""The Redis ACL roles the README documents, on a real Redis: each may do what it says only."""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flyteidl.core import tasks_pb2

from scheduler import AccessDeniedError, Client, Settings
from scheduler._backend import AclRole, setuser_command
from scheduler.cli import main
from tests.helpers import RedisServer


@pytest.fixture
def deployment(redis_server: RedisServer, tmp_path: Path) -> Iterator[dict[AclRole, Client]]:
    """A client per role, each logged in as its own ACL user; plus the owner's (default user)."""
    prefix = f"acl{uuid.uuid4().hex[:6]}"
    storage = f"file://{tmp_path}/storage"
    owner = Client.from_settings(
        Settings(redis_url=redis_server.url, storage=storage, key_prefix=prefix)
    )
    admin = redis_server.client()
    clients = {}
    for role in AclRole:
        user, password = f"{role.value}-{prefix}", f"pw-{uuid.uuid4().hex}"
        admin.execute_command(*setuser_command(role, owner.runtime.shards, user, password))
        url = f"redis://{user}:{password}@127.0.0.1:{redis_server.port}/0"
        settings = Settings(redis_url=url, storage=storage, key_prefix=prefix)
        clients[role] = Client.from_settings(settings)
    try:
        yield clients
    finally:
        for role in AclRole:
            admin.execute_command("ACL", "DELUSER", f"{role.value}-{prefix}")
        admin.close()


def echo() -> tasks_pb2.TaskTemplate:
    return tasks_pb2.TaskTemplate(type="echo")


def test_a_submitter_submits_lists_and_aborts_but_reaches_nothing_else(deployment) -> None:
    submitter: Client = deployment[AclRole.SUBMITTER]
    ex = submitter.submit(echo(), project="team-a")
    assert [e.id for e in submitter.list()] == [ex.id]
    submitter.get(ex.id).abort("changed my mind")
    assert submitter.get(ex.id).record.teardown is not None
    with submitter.runtime.done.watch(ex.id) as done:
        assert done.subscribed  # Execution.wait is woken by the done message
    # Quotas, limiters, the scheduler's lease and the broker's queues are not its keys.
    with pytest.raises(redis.exceptions.NoPermissionError):
        submitter.runtime.quotas.metrics("echo:default")
    with pytest.raises(redis.exceptions.NoPermissionError):
        submitter.runtime.redis.set(submitter.runtime.keys.leader, "me")


def test_a_viewer_reads_but_cannot_submit_or_abort(deployment) -> None:
    ex = deployment[AclRole.SUBMITTER].submit(echo(), project="team-a")
    viewer: Client = deployment[AclRole.VIEWER]
    assert [e.id for e in viewer.list()] == [ex.id]
    assert viewer.get(ex.id).events()[0].reason == "submitted"
    with viewer.runtime.done.watch(ex.id) as done:
        assert done.subscribed
    # The counts by phase too: a read-only console's summary.
    assert [(c.task_type, c.phase.name, c.count) for c in viewer.phase_counts()] == [
        ("echo", "QUEUED", 1)
    ]
    with pytest.raises(AccessDeniedError, match="NoPermissionError"):
        viewer.get(ex.id).abort("not mine to abort")
    with pytest.raises(AccessDeniedError, match="NoPermissionError"):
        viewer.submit(echo())
    assert deployment[AclRole.SERVICE].get(ex.id).record.teardown is None  # nothing changed


def test_wrong_credentials_are_access_denied_naming_the_setting(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    url = f"redis://nobody-{uuid.uuid4().hex[:6]}:wrong@127.0.0.1:{redis_server.port}/0"
    client = Client.from_settings(Settings(redis_url=url, storage=f"file://{tmp_path}/s"))
    with pytest.raises(AccessDeniedError, match="FLYTE_CELERY_REDIS_URL"):
        client.list()


def test_the_cli_prints_a_working_redis_cli_command(
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = f"cli{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("FLYTE_CELERY_KEY_PREFIX", prefix)
    user = f"bob-{prefix}"
    assert main(["acl", "submitter", user, "--password", "bobs-pw"]) == 0
    line = capsys.readouterr().out.strip()
    program, *command = shlex.split(line)
    assert program == "redis-cli" and command[:3] == ["ACL", "SETUSER", user]
    admin = redis_server.client()
    try:
        admin.execute_command(*command)
        url = f"redis://{user}:bobs-pw@127.0.0.1:{redis_server.port}/0"
        bob = Client.from_settings(
            Settings(redis_url=url, storage=f"file://{tmp_path}/s", key_prefix=prefix)
        )
        ex = bob.submit(echo())
        assert [e.id for e in bob.list()] == [ex.id]
    finally:
        admin.execute_command("ACL", "DELUSER", user)
        admin.close()
