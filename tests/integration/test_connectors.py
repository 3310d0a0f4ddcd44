"""flytekit's connectors in a real worker: a FileSensor, and a webhook called again and again."""

from __future__ import annotations

from pathlib import Path

from plugins.core import Phase
from tests.flytekit import fktasks
from tests.flytekit.hookserver import HookServer
from tests.flytekit.serialize import literals, template
from tests.helpers import wait_for
from tests.integration.stack import Stack


def test_connectors_run_in_a_worker(one_slot: Stack, tmp_path: Path, hook: HookServer) -> None:
    target = tmp_path / "arrived.flag"
    with one_slot.client() as client:
        sensor = client.submit(template(fktasks.file_sensor()), literals(path=str(target)))
        wait_for(lambda: sensor.refresh().phase is Phase.RUNNING, timeout=120, what="RUNNING")
        hooks = [
            client.submit(template(fktasks.webhook(hook.url)), literals(x=n)) for n in range(3)
        ]
        for ex in hooks:
            assert ex.wait(120) is Phase.SUCCESS, ex.error()
        target.write_text("here")
        assert sensor.wait(120) is Phase.SUCCESS
    assert sorted(int(str(b["x"])) for b in hook.received) == [0, 1, 2]
