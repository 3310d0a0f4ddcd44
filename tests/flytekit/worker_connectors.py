"""A connector only a worker imports (``FLYTE_CELERY_CONNECTOR_MODULES``): ``shout``, sync.

Clients and the scheduler do not import this module; they learn of its task type
from what the worker publishes. It reads the secret ``shout_suffix`` the way connectors
read their credentials (``get_connector_secret``: ``_FSEC_SHOUT_SUFFIX`` in the
worker's environment, or ``/etc/secrets/shout_suffix``).
"""

from __future__ import annotations

from typing import Any

from flyteidl.core import tasks_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from flytekit.extend.backend.base_connector import ConnectorRegistry, Resource, SyncConnectorBase
from flytekit.extend.backend.utils import get_connector_secret
from flytekit.models.literals import LiteralMap

from tests.helpers import STRING, task_template


class ShoutConnector(SyncConnectorBase):
    name = "Shout Connector"

    def __init__(self) -> None:
        super().__init__(task_type_name="shout")

    async def do(
        self, task_template: Any, output_prefix: str, inputs: LiteralMap | None = None, **kw: Any
    ) -> Resource:
        text = inputs.literals["text"].scalar.primitive.string_value if inputs else ""
        suffix = get_connector_secret("shout_suffix")
        return Resource(phase=TaskExecution.SUCCEEDED, outputs={"loud": text.upper() + suffix})


ConnectorRegistry.register(ShoutConnector())


def shout_template() -> tasks_pb2.TaskTemplate:
    """A template of the ``shout`` connector: input ``text``, output ``loud``."""
    return task_template(
        "shout", name="tests.shout", inputs={"text": STRING}, outputs={"loud": STRING}
    )
