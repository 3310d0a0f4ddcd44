"""What a worker does for each job: claim-checked plugin calls written back with CAS.

- :class:`Steps`: one method per job (create, do, get, delete, handle);
- :mod:`.writeback`: the claim check and the compare-and-set write-back;
- :mod:`.webapi`, :mod:`.core`, :mod:`.teardown`: the calls of each plugin kind;
- :mod:`.observe`: applying what a Get saw; :mod:`.populate`: the result cache.
"""

from __future__ import annotations

from scheduler._steps.leases import Reservations
from scheduler._steps.runner import Steps
from scheduler._steps.writeback import WriteBack, running_job

__all__ = ["Reservations", "Steps", "WriteBack", "running_job"]
