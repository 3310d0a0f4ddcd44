"""Per-plugin overrides: the YAML file of ``FLYTE_CELERY_PLUGIN_CONFIG``.

Each plugin's section, in Propeller's camelCase, is merged deeply into the plugin's own
``PluginConfig``; a plugin with settings of its own keeps its ``PluginConfig`` under
``webApi``, and sees its section as ``setup.config``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from plugins.errors import ConfigError, PluginLoadError
from plugins.webapi import PluginConfig

__all__ = ["Overrides"]


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _camel_to_snake(data: Any) -> Any:
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in str(key))
            # Quota namespaces are data, not field names: keep their spelling.
            out[snake] = value if snake == "resource_quotas" else _camel_to_snake(value)
        return out
    return data


def _read(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"FLYTE_CELERY_PLUGIN_CONFIG {path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"FLYTE_CELERY_PLUGIN_CONFIG {path}: expected a mapping of plugin ids")
    return data


class Overrides:
    """The overrides file, read once.

    Args:
        path: The YAML file, if any.

    Attributes:
        sections: Each plugin id's section, as read.

    Raises:
        ConfigError: The file cannot be read or is not a mapping.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self.sections: dict[str, Any] = _read(path)

    def effective(
        self, plugin_id: str, config: PluginConfig, own_keys: Iterable[str]
    ) -> PluginConfig:
        """``config`` with the file's section for ``plugin_id`` merged in.

        Raises:
            PluginLoadError: The section is not a mapping, or makes an invalid config.
        """
        section = self.sections.get(plugin_id)
        if not section:
            return config
        if not isinstance(section, dict):
            raise PluginLoadError(
                f"plugin {plugin_id!r}: override in {self._path}: expected a mapping, "
                f"got {type(section).__name__}"
            )
        # A plugin with settings of its own (connector-service) keeps its PluginConfig
        # under ``webApi``, as Propeller's does; its own keys are not PluginConfig's.
        own = set(own_keys)
        override = section.get("webApi", {k: v for k, v in section.items() if k not in own})
        if not override:
            return config
        base = config.model_dump(mode="python")
        merged = _deep_merge(base, _camel_to_snake(override))
        try:
            return PluginConfig(**merged, resource_meta=config.resource_meta)
        except ValueError as exc:
            raise PluginLoadError(f"plugin {plugin_id!r}: override in {self._path}: {exc}") from exc
