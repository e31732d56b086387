"""`newsclean serve`: a standing local Prefect server, scheduled runs that really clean new
files, and a clean stop (no server process left behind). Real processes, real schedule."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import FAKENEWS, REFERENCE

pytestmark = [pytest.mark.process, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


def _runs(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_runs_the_schedule_on_new_files_and_stops_cleanly(tmp_path: Path) -> None:
    raw, out, home = tmp_path / "raw", tmp_path / "clean", tmp_path / "prefect-home"
    raw.mkdir()
    (raw / "first.txt").write_bytes(REFERENCE.read_bytes())
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1", PREFECT_LOGGING_LEVEL="WARNING")
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [
            sys.executable, "-m", "newsclean.cli", "serve", str(raw), "--out", str(out),
            "--interval", "5", "--port", str(port), "--no-typos",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        _wait_for(lambda: any(r["kept"] == 1 for r in _runs(out)), 240, "a first scheduled run")
        pd.read_csv(FAKENEWS).head(30).to_csv(raw / "later.csv", index=False)
        _wait_for(
            lambda: any(r["files"]["new"] == 1 and r["documents_in"] == 30 for r in _runs(out)),
            240,
            "a scheduled run that cleans the new file",
        )
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=90)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert code == 0, output
    runs = _runs(out)
    assert len(runs) >= 2
    first = next(r for r in runs if r["kept"] == 1)
    assert first["files"]["new"] == 1
    later = next(r for r in runs if r["documents_in"] == 30)
    assert later["kept"] + later["duplicates"] == 30
    assert len(pd.read_parquet(out / "articles")) == 1 + later["kept"]
    assert sorted(pd.read_parquet(out / "manifest.parquet")["path"]) == ["first.txt", "later.csv"]
    assert (home / "prefect.db").exists() or any(home.rglob("*.db"))  # SQLite under PREFECT_HOME
    time.sleep(1)
    assert _processes_mentioning(f"--port {port}") == [], "the Prefect server was left running"
