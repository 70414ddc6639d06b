"""The model settings a run asks for: a TOML file and ``KEY=VALUE`` settings, checked.

Keys are the fields of :class:`streamrec.online.config.RecommenderConfig`. Sources,
later wins: a TOML file (``--model-config``, ``STREAMREC_MODEL_CONFIG``; top-level
keys or one ``[model]`` table), then single settings (``--model-set KEY=VALUE``,
repeatable; ``STREAMREC_MODEL_SET="k=32,lr=0.05"``). Only the keys given are
returned: a key nobody asked for keeps the stored value (or the default on a new
state). Every mistake raises :class:`SettingsError` with one line naming the key,
the value and what is allowed.

>>> requested_settings(sets=["lr=0.05", "k=32"])
{'lr': 0.05, 'k': 32}
>>> requested_settings(sets=["k=0"])
Traceback (most recent call last):
...
streamrec.state.settings.SettingsError: --model-set k=0: not allowed (k >= 1, n_buckets >= 64 and max_item_features >= 1 required)
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from streamrec.online.config import RecommenderConfig

_DEFAULTS = RecommenderConfig()
#: setting name -> Python type of its default (bool before int: bool is an int)
SETTING_TYPES: dict[str, type] = {f.name: type(getattr(_DEFAULTS, f.name)) for f in fields(RecommenderConfig)}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A model setting that cannot be used; the message is one line for the user."""


def _allowed(key: str) -> str:
    kind = SETTING_TYPES[key].__name__
    return f"{key} takes a {kind} (default {getattr(_DEFAULTS, key)!r})"


def _check_key(key: str, where: str) -> None:
    if key not in SETTING_TYPES:
        near = difflib.get_close_matches(key, SETTING_TYPES, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise SettingsError(f"{where}: unknown model setting {key!r}; {hint}allowed: {', '.join(SETTING_TYPES)}")


def _from_text(key: str, text: str, where: str) -> Any:
    """A ``--model-set`` value (a string) as the setting's type."""
    kind, t = SETTING_TYPES[key], text.strip()
    try:
        if kind is bool:
            if t.lower() not in _TRUE | _FALSE:
                raise ValueError(t)
            return t.lower() in _TRUE
        return kind(t)
    except ValueError:
        raise SettingsError(f"{where}: {_allowed(key)}") from None


def _from_toml(key: str, value: Any, where: str) -> Any:
    """A TOML value as the setting's type (an integer is accepted for a float)."""
    kind = SETTING_TYPES[key]
    if kind is float and type(value) is int:
        return float(value)
    if type(value) is not kind:
        raise SettingsError(f"{where}: {_allowed(key)}")
    return value


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"--model-config {path}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"--model-config {path}: not a readable TOML file ({exc})") from None
    if set(doc) == {"model"} and isinstance(doc["model"], dict):
        doc = doc["model"]
    out = {}
    for key, value in doc.items():
        where = f"--model-config {path}: {key} = {value!r}"
        _check_key(key, where)
        out[key] = _from_toml(key, value, where)
    return out


def split_sets(text: str) -> list[str]:
    """``"k=32,lr=0.05"`` (the ``STREAMREC_MODEL_SET`` form) -> ``["k=32", "lr=0.05"]``."""
    return [p.strip() for p in text.split(",") if p.strip()]


def requested_settings(toml_path: str = "", sets: Iterable[str] = ()) -> dict[str, Any]:
    """The checked settings asked for (only the keys given); raises :class:`SettingsError`."""
    out = _read_toml(toml_path) if toml_path else {}
    origin = {key: f"--model-config {toml_path}: {key} = {value!r}" for key, value in out.items()}
    for kv in sets:
        key, sep, text = kv.partition("=")
        key = key.strip()
        where = f"--model-set {kv}"
        if not sep:
            raise SettingsError(f"{where}: expected KEY=VALUE with KEY a RecommenderConfig field")
        _check_key(key, where)
        out[key], origin[key] = _from_text(key, text, where), where
    check_config(out, origin)
    return out


def check_config(settings: Mapping[str, Any], origin: Mapping[str, str] | None = None) -> RecommenderConfig:
    """``RecommenderConfig(**settings)`` if ``validate()`` accepts it, naming the culprit if not."""
    config = RecommenderConfig(**settings)
    try:
        config.validate()
    except ValueError as exc:
        culprits = [k for k in settings if not _valid(RecommenderConfig(**{k: settings[k]}))] or list(settings)
        where = "; ".join((origin or {}).get(k, f"{k}={settings[k]!r}") for k in culprits)
        raise SettingsError(f"{where}: not allowed ({exc})") from None
    return config


def _valid(config: RecommenderConfig) -> bool:
    try:
        config.validate()
    except ValueError:
        return False
    return True
