"""Load an experiment config: `<file>.py:<profile>[,key=value,...]` plus `--config.key=value`.

Each experiment's config.py defines `get_config(profile: str) -> ml_collections.ConfigDict`.
Overrides are typed by the field they replace, so a typo or a wrong type is caught here, with
a one-line ConfigError naming the value and what is accepted (entry points turn it into exit
status 2 before anything is written).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import ml_collections


class ConfigError(ValueError):
    """A bad config file, profile, key or value given by the user."""


def load(spec: str, overrides: list[str] | tuple[str, ...] = ()) -> ml_collections.ConfigDict:
    """`spec` = "path/to/config.py:profile[,key=value...]"; overrides = ["key=value", ...]."""
    path, _, arg = spec.partition(":")
    if not Path(path).is_file():
        raise ConfigError(f"--config: file {path!r} not found; accepted: a path to a config.py")
    module_spec = importlib.util.spec_from_file_location(f"config_{Path(path).parent.name}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    profile, *inline = arg.split(",") if arg else ("",)
    profiles = getattr(module, "PROFILES", None)
    if profiles is not None and profile not in profiles:
        raise ConfigError(
            f"--config: profile {profile!r} not in {path}; accepted: {', '.join(profiles)}"
        )
    config = module.get_config(profile)
    for item in [*inline, *overrides]:
        apply_override(config, item)
    return config


def apply_override(config: ml_collections.ConfigDict, item: str) -> None:
    """Set one `dotted.key=value`, typed like the existing field."""
    key, sep, raw = item.partition("=")
    if not sep:
        raise ConfigError(f"override {item!r}: accepted form key=value")
    if "." not in key and key not in config:
        # A bare name that occurs once in the tree: `qk_norm=true` -> model.attention.qk_norm.
        matches = [k for k in _keys(config, sections=True) if k.split(".")[-1] == key]
        if len(matches) == 1:
            key = matches[0]
    if _section(config, key) is not None and "kind" in _section(config, key):
        # A section with a `kind` names it: `attention=laser` -> model.attention.kind=laser.
        key = f"{key}.kind"
    node, *parents = config, *key.split(".")[:-1]
    for part in parents:
        if part not in node or not isinstance(node[part], ml_collections.ConfigDict):
            raise ConfigError(f"config key {key!r} unknown; accepted: {', '.join(_keys(config))}")
        node = node[part]
    leaf = key.split(".")[-1]
    if leaf not in node:
        raise ConfigError(f"config key {key!r} unknown; accepted: {', '.join(_keys(config))}")
    old = node[leaf]
    node[leaf] = _parse(key, raw, old)


def _parse(key: str, raw: str, old):
    if isinstance(old, bool):
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"config {key}={raw!r}: accepted: true or false")
    if isinstance(old, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"config {key}={raw!r}: accepted: an integer") from None
    if isinstance(old, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"config {key}={raw!r}: accepted: a number") from None
    if isinstance(old, str) or old is None:
        return raw
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise ConfigError(f"config {key}={raw!r}: accepted: a {type(old).__name__}") from None
    if not isinstance(value, type(old)):
        raise ConfigError(f"config {key}={raw!r}: accepted: a {type(old).__name__}")
    return value


def _section(config: ml_collections.ConfigDict, key: str) -> ml_collections.ConfigDict | None:
    """The section at dotted `key`, or None if there is none."""
    node = config
    for part in key.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, ml_collections.ConfigDict) else None


def _keys(config: ml_collections.ConfigDict, prefix: str = "", sections: bool = False) -> list[str]:
    """Dotted keys of the leaves (and of the sections too, with `sections`)."""
    keys = []
    for k, v in config.items():
        if isinstance(v, ml_collections.ConfigDict):
            keys += [f"{prefix}{k}"] if sections else []
            keys += _keys(v, f"{prefix}{k}.", sections)
        else:
            keys.append(f"{prefix}{k}")
    return keys
