"""Prefect settings that must be in place *before* prefect is imported.

Measured on these machines (docs/prefect.md): without both telemetry switches an exit can hang
on a slow resolver; PREFECT_HOME's parent must exist or the temporary server times out after
20 s; the temporary server needs a generous start-up timeout on a loaded 2-core machine.
Existing environment values always win, so users and CI can point Prefect elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def configure(home: Path | None = None) -> Path:
    """Set telemetry off and a working PREFECT_HOME; returns the PREFECT_HOME in use."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    chosen = os.environ.get("PREFECT_HOME") or str(home or Path.cwd() / ".prefect")
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(path)
    return path


configure()
