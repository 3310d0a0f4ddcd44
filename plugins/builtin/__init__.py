"""Built-in plugins, registered through the ``flyte_celery.plugins`` entry points.

- ``echo`` (sync): its outputs are its inputs.
- ``core-sleep`` (async): completes after its ``duration`` input, so tasks made by
  ``flytekitplugins-sleep`` run unchanged.
"""

from __future__ import annotations

from plugins.builtin.echo import ECHO, EchoPlugin
from plugins.builtin.sleep import SLEEP, SleepHandle, SleepPlugin

__all__ = ["ECHO", "SLEEP", "EchoPlugin", "SleepHandle", "SleepPlugin"]
