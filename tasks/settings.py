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

SETTINGS_FILE = Path(__file__).resolve().parent / "settings.toml"


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


@cache
def run_settings(path: Path = SETTINGS_FILE) -> RunSettings:
    with path.open("rb") as fh:
        table = tomllib.load(fh)["run"]
    names = {f.name for f in fields(RunSettings)}
    missing, unknown = names - set(table), set(table) - names
    if missing or unknown:
        raise ValueError(f"{path}: missing settings {sorted(missing)}, unknown {sorted(unknown)}")
    return RunSettings(**table)


RUN = run_settings()
