"""A real Flyte 2 connector server for the tests: its ``ConnectorService`` in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
from flyteidl2.connector import connector_pb2, service_pb2_grpc

from tests.flyte2.jobs import TOKEN_VARIABLE
from tests.helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


class Flyte2ConnectorServer:
    """Flyte 2's connector service (flyteidl2 over gRPC) serving ``tests.flyte2.jobs``.

    Args:
        directory: Where its log goes.
    """

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.log = directory / "flyte2-connector-server.log"
        env = dict(os.environ, PYTHONPATH=str(ROOT), **{TOKEN_VARIABLE: "sesame"})
        script = (
            "from flyte.connectors import ConnectorService; "
            f"ConnectorService.run({self.port}, {free_port()}, 10, None, ['tests.flyte2.jobs'])"
        )
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=handle,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_for(self._answers, timeout=120, what="the Flyte 2 connector server to answer")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"connector server exited:\n{self.log.read_text()[-3000:]}")
        with grpc.insecure_channel(self.endpoint) as channel:
            stub = service_pb2_grpc.ConnectorMetadataServiceStub(channel)
            try:
                stub.ListConnectors(connector_pb2.ListConnectorsRequest(), timeout=2)
            except grpc.RpcError:
                return False
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
