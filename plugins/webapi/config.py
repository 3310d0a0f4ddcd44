"""PluginConfig: quotas, rate limits and polling of a web-API plugin (Go's ``pluginconfig.go``).

Field names are snake_case; Flyte's camelCase YAML keys (``resourceQuotas``,
``readRateLimiter``, ``resyncInterval``, ``maxSystemFailures``...) are accepted
too, so a Flyte config can be pasted in. Durations accept ``timedelta``, seconds,
ISO 8601 and Go duration strings (``"30s"``, ``"1m30s"``, ``"500ms"``).

Every range violation is reported in one :class:`PluginConfigError`, in Flyte's
order and wording, followed by any quota outside (0, 1000].
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Self, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from plugins.core.resources import MAX_RESOURCE_QUOTA
from plugins.errors import PluginConfigError, PluginStateError

__all__ = [
    "DEFAULT_PLUGIN_CONFIG",
    "CachingConfig",
    "PluginConfig",
    "RateLimiterConfig",
    "parse_duration",
]

# Flyte's ranges, checked at plugin load (internal/webapi/core.go), except workers: Flyte
# caps it at 100 goroutines per plugin; a worker process here runs a whole Get job's calls
# at once, and 100,000 in flight at a 50 ms latency wants about 600.
MIN_CACHE_SIZE, MAX_CACHE_SIZE = 10, 500_000
MIN_WORKERS, MAX_WORKERS = 1, 10_000
MIN_SYNC_SECONDS, MAX_SYNC_SECONDS = 5.0, 3600.0
MIN_BURST, MAX_BURST = 5, 10_000
MIN_QPS, MAX_QPS = 1.0, 100_000.0

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(value: Any) -> Any:
    """Turn a Go duration string (``"1h2m3.5s"``) or seconds (``30``, ``"2.5"``) into a timedelta.

    Anything else is passed on for pydantic to validate (timedelta, ISO 8601).

    Raises:
        ValueError: A string that is neither a Go duration nor ISO 8601.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return timedelta(seconds=float(text))  # "30", "2.5": seconds, as in env vars
        except ValueError:
            pass
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-")
        if body == "0":
            return timedelta(0)
        if body and _GO_DURATION.sub("", body) == "" and _GO_DURATION.match(body):
            seconds = sum(float(n) * _GO_UNITS[u] for n, u in _GO_DURATION.findall(body))
            return timedelta(seconds=sign * seconds)
        if not text.upper().startswith(("P", "-P")):
            raise ValueError(
                f"invalid duration {value!r}: use a Go duration such as '30s' or '1m30s', "
                "a number of seconds, or ISO 8601"
            )
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _go_number(value: float) -> str:
    """Format a number as Go's ``%v`` formats a float64: ``0``, ``10``, ``3.6e+07``.

    Go prints the shortest round-tripping digits and switches to exponent form when
    the decimal exponent is below -4 or at least 6.
    """
    if value == 0:
        return "0"
    d = Decimal(repr(float(value))).normalize()
    exponent = d.adjusted()
    if -4 <= exponent < 6:
        return format(d, "f")
    sign, digits, _ = d.as_tuple()
    mantissa = "".join(str(x) for x in digits)
    text = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
    return f"{'-' if sign else ''}{text}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _format(value: float) -> str:
    # Go's validateRangeInt prints ints with %v; validateRangeFloat64 prints float64s.
    return str(value) if isinstance(value, int) else _go_number(value)


def _range(name: str, low: float, high: float, value: float) -> str | None:
    if low <= value <= high:
        return None
    return (
        f"{name} is expected to be between {_format(low)} and {_format(high)}. "
        f"Provided value is {_format(value)}"
    )


class _ConfigModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class RateLimiterConfig(_ConfigModel):
    """A token bucket: a sustained rate of ``qps`` calls per second, up to ``burst`` at once."""

    qps: float = 30.0
    burst: int = 300


class CachingConfig(_ConfigModel):
    """How executions are polled.

    Attributes:
        size: How many executions one plugin may track at once.
        resync_interval: The time between two Gets of one execution.
        workers: How many calls of this plugin (Create, Get, Delete, Do) one worker
            process runs at once; a Get job carries this many Gets when it is more than
            the Get batch size.
        max_system_failures: Failed Gets tolerated per attempt; one more fails it.
        poll_backoff: The first wait between two Gets after Create. The wait is then as
            long as the job has run so far (1 s, 2 s, 4 s...) up to ``resync_interval``,
            so a short job is seen done soon after it ends. Zero polls every
            ``resync_interval`` from the start, as Flyte does (our addition; YAML key
            ``pollBackoff``).
    """

    size: int = 100_000
    resync_interval: Duration = timedelta(seconds=30)
    workers: int = 10
    max_system_failures: int = 5
    poll_backoff: Duration = timedelta(seconds=1)

    def poll_interval(self, running_for: timedelta) -> timedelta:
        """The wait before the next Get of a job created ``running_for`` ago.

        Args:
            running_for: The time since Create; negative (clocks apart) counts as zero.

        Returns:
            ``resync_interval`` without a back-off, else the time run so far, at least
            ``poll_backoff`` and at most ``resync_interval``.
        """
        if self.poll_backoff <= timedelta(0):
            return self.resync_interval
        return min(self.resync_interval, max(self.poll_backoff, running_for))


def _unwrap(exc: ValidationError) -> PluginConfigError:
    """Our own range error unchanged; pydantic's type errors as one readable message."""
    errors = exc.errors()
    for err in errors:
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, PluginConfigError) and len(errors) == 1:
            return inner
    lines = []
    for err in errors:
        where = ".".join(str(p) for p in err["loc"]) or "config"
        lines.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    return PluginConfigError("invalid plugin config:\n" + "\n".join(lines))


@lru_cache(maxsize=256)
def _cached_adapter(tp: Hashable) -> TypeAdapter[Any]:
    return TypeAdapter(cast(type[Any], tp))


def _adapter(tp: type[Any]) -> TypeAdapter[Any]:
    return _cached_adapter(cast(Hashable, tp))


class PluginConfig(_ConfigModel):
    """The configuration a web-API plugin returns from ``get_config()``.

    Attributes:
        resource_quotas: Tokens per resource namespace; each in (0, 1000].
        read_rate_limiter: Global limit on Get calls.
        write_rate_limiter: Global limit on Create and Delete calls (Flyte only
            validates it; we apply it).
        caching: Polling: tracked size, resync interval, concurrency, failure budget.
        resource_meta: The type of the plugin's resource handle (a dataclass or
            pydantic model), used to encode it as JSON and decode it again.
            ``None`` means the handle is plain JSON.

    Raises:
        PluginConfigError: On construction, when any value is out of range.
    """

    resource_quotas: dict[str, int] = Field(default_factory=dict)
    read_rate_limiter: RateLimiterConfig = RateLimiterConfig(qps=30, burst=300)
    write_rate_limiter: RateLimiterConfig = RateLimiterConfig(qps=20, burst=200)
    caching: CachingConfig = CachingConfig()
    resource_meta: type[Any] | None = Field(default=None, exclude=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _unwrap(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate a mapping (e.g. parsed YAML); errors are :class:`PluginConfigError`."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _unwrap(exc) from None

    @model_validator(mode="after")
    def _check_ranges(self) -> Self:
        problems = self.violations()
        if problems:
            raise PluginConfigError("\n" + "\n".join(problems))
        return self

    def violations(self) -> list[str]:
        """Every range violation, in Flyte's order, then quotas; empty when valid."""
        c, r, w = self.caching, self.read_rate_limiter, self.write_rate_limiter
        checks = [
            _range("cache size", MIN_CACHE_SIZE, MAX_CACHE_SIZE, c.size),
            _range("workers count", MIN_WORKERS, MAX_WORKERS, c.workers),
            _range(
                "resync interval",
                MIN_SYNC_SECONDS,
                MAX_SYNC_SECONDS,
                c.resync_interval.total_seconds(),
            ),
            _range("poll backoff", 0.0, MAX_SYNC_SECONDS, c.poll_backoff.total_seconds()),
            _range("read burst", MIN_BURST, MAX_BURST, r.burst),
            _range("read qps", MIN_QPS, MAX_QPS, r.qps),
            _range("write burst", MIN_BURST, MAX_BURST, w.burst),
            _range("write qps", MIN_QPS, MAX_QPS, w.qps),
        ]
        problems = [p for p in checks if p is not None]
        for namespace, quota in self.resource_quotas.items():
            if not 0 < quota <= MAX_RESOURCE_QUOTA:
                problems.append(
                    f"resource quota of namespace {namespace!r} is expected to be in "
                    f"(0, {MAX_RESOURCE_QUOTA}]. Provided value is {quota}"
                )
        return problems

    def validate_ranges(self) -> None:
        """Re-check the ranges (for configs built with ``model_construct``).

        Raises:
            PluginConfigError: Listing every violation.
        """
        problems = self.violations()
        if problems:
            raise PluginConfigError("\n" + "\n".join(problems))

    def encode_resource_meta(self, meta: Any) -> str:
        """Encode a resource handle as JSON text.

        Raises:
            TypeError: The handle cannot be encoded; the message names its type.
        """
        try:
            if self.resource_meta is None:
                return json.dumps(meta, sort_keys=True)
            return _adapter(self.resource_meta).dump_json(meta).decode()
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"resource meta of type {type(meta).__name__} cannot be encoded as JSON: {exc}"
            ) from exc

    def decode_resource_meta(self, text: str | bytes) -> Any:
        """Decode :meth:`encode_resource_meta` output.

        Raises:
            PluginStateError: The text does not decode as ``resource_meta``.
        """
        try:
            if self.resource_meta is None:
                return json.loads(text)
            return _adapter(self.resource_meta).validate_json(text)
        except (ValueError, ValidationError) as exc:
            expected = "JSON" if self.resource_meta is None else self.resource_meta.__name__
            raise PluginStateError(
                f"stored resource meta does not decode as {expected}: {exc}"
            ) from exc


DEFAULT_PLUGIN_CONFIG = PluginConfig()
"""Flyte's defaults: read 30 qps / burst 300, write 20 / 200, cache size 100000,
resync 30s, 10 workers, 5 system failures, no quotas."""
