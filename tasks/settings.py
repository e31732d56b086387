"""Run defaults, read from ``settings.toml`` beside this module: the one source of truth.

The flow's parameter defaults, the CLI's option defaults and help texts and the scheduled
deployment all read :data:`RUN`, so a default is changed in one place. Rule thresholds
(near-dup, learned boilerplate, typos) are not here: they are rules, in ``rules/*.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import TypeVar

SETTINGS_FILE = Path(__file__).resolve().parent / "settings.toml"
T = TypeVar("T")


@dataclass(frozen=True)
class RunSettings:
    """The ``[run]`` table of settings.toml (no defaults here: the TOML is the source)."""

    raw_dir: str
    out_dir: str
    batch_size: int
    unit_bytes: int
    max_doc_bytes: int
    max_json_document_bytes: int
    workers: int
    typos: bool
    learn_boilerplate: bool
    lock_wait: float
    scheduled_lock_wait: float


@dataclass(frozen=True)
class ServeSettings:
    """The ``[serve]`` table of settings.toml: ``newsclean serve``'s defaults."""

    port: int
    deployment: str
    server_start_timeout: float


@dataclass(frozen=True)
class ServerSettings:
    """The ``[server]`` table of settings.toml: the warm server of one-off runs."""

    idle_seconds: float


def _table(cls: type[T], name: str, path: Path = SETTINGS_FILE) -> T:
    """One table of settings.toml as ``cls``; a missing or unknown key fails loudly."""
    table = _load(path)[name]
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    missing, unknown = names - set(table), set(table) - names
    if missing or unknown:
        raise ValueError(
            f"{path} [{name}]: missing settings {sorted(missing)}, unknown {sorted(unknown)}"
        )
    return cls(**table)


@cache
def _load(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


RUN = _table(RunSettings, "run")
SERVE = _table(ServeSettings, "serve")
SERVER = _table(ServerSettings, "server")
