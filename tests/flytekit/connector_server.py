"""A real connector server for the tests: ``pyflyte serve connector`` in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.core import tasks_pb2
from flyteidl.service import agent_pb2_grpc

from tests.helpers import INTEGER, free_port, task_template, wait_for

ROOT = Path(__file__).resolve().parents[2]
PYFLYTE = Path(sys.executable).with_name("pyflyte")


class ConnectorServer:
    """flytekit's connector service with its built-in connectors and the test ones.

    Args:
        directory: Where its log and the connectors' journal go.
    """

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.journal = directory / "connector-journal.jsonl"
        self.log = directory / "connector-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ, CONNECTOR_JOURNAL=str(self.journal), PYTHONPATH=str(ROOT))
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [str(PYFLYTE), "serve", "connector", "--port", str(self.port),
                 "--prometheus_port", str(free_port()),
                 "--modules", "tests.flytekit.grpc_connectors"],
                cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_for(self._answers, timeout=120, what="the connector server to answer ListAgents")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"connector server exited:\n{self.log.read_text()[-3000:]}")
        with grpc.insecure_channel(self.endpoint) as channel:
            stub = agent_pb2_grpc.AgentMetadataServiceStub(channel)
            try:
                stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=2)
            except grpc.RpcError:
                return False
        return True

    def events(self, event: str) -> list[dict[str, object]]:
        import json

        if not self.journal.exists():
            return []
        lines = self.journal.read_text().splitlines()
        return [e for e in (json.loads(line) for line in lines) if e["event"] == event]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self.process = None


def countdown_template(task_type: str = "countdown") -> tasks_pb2.TaskTemplate:
    """A template of the test server's ``countdown`` connector: inputs x, ticks, fail; output o."""
    return task_template(
        task_type,
        name=f"tests.{task_type}",
        inputs=dict.fromkeys(("x", "ticks", "fail"), INTEGER),
        outputs={"o": INTEGER},
    )
