"""The warm Prefect server of one-off runs: started once, reused by the next run, stopped
after its idle time or by `newsclean server stop`; never left running by a test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from newsclean.warm_server import process_alive


@pytest.mark.unit
def test_a_configured_prefect_api_turns_the_warm_server_off(tmp_path: Path, monkeypatch) -> None:
    from newsclean import warm_server

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.setenv("NEWSCLEAN_WARM_SERVER", "1")
    assert warm_server.enabled()
    (tmp_path / "profiles.toml").write_text(
        'active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://prefect.internal:4200/api"\n'
    )
    assert not warm_server.enabled()  # `prefect config set PREFECT_API_URL=...` wins
    monkeypatch.setenv("PREFECT_PROFILE", "local")
    assert warm_server.enabled()
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere/api")
    assert not warm_server.enabled()
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setenv("NEWSCLEAN_WARM_SERVER", "0")
    assert not warm_server.enabled()


@pytest.mark.unit
def test_a_run_never_reads_half_a_record(tmp_path: Path) -> None:
    """The keeper rewrites its record while runs read it: each read finds it whole (an
    in-place write let a reader see an empty file, take it for stale and remove it)."""
    import json
    import threading

    from newsclean import warm_server

    record = {"pid": os.getpid(), "url": "http://127.0.0.1:1/api", "idle_seconds": 8.0}
    warm_server.write_record(tmp_path, record)
    done = threading.Event()

    def rewrite() -> None:
        while not done.is_set():
            warm_server.write_record(tmp_path, record)

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        reads = [json.loads((tmp_path / warm_server.STATE).read_text()) for _ in range(3000)]
    finally:
        done.set()
        writer.join()
    assert all(read == record for read in reads)
    assert [p.name for p in tmp_path.iterdir()] == [warm_server.STATE]  # no temp file left


def _start(env: dict[str, str], idle: float) -> dict:
    """`newsclean server start` in its own process, as a user would: the keeper it leaves is
    not this test's child (a child of ours would linger as a zombie once it exits)."""
    from newsclean import warm_server

    done = subprocess.run(
        [sys.executable, "-m", "newsclean.cli", "server", "start", "--idle", str(idle)],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    record = warm_server.status()
    assert record is not None and str(record["pid"]) in done.stdout
    return record


@pytest.mark.process
@pytest.mark.slow
def test_runs_reuse_the_warm_server_until_it_idles_out(
    tmp_path: Path, demo_raw: Path, monkeypatch
) -> None:
    from newsclean import warm_server

    home = tmp_path / "prefect-home"
    home.mkdir()
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    env = {**os.environ, "NEWSCLEAN_WARM_SERVER": "1", "COLUMNS": "300"}
    record = _start(env, idle=8)
    try:
        assert warm_server.status() == record and process_alive(record["pid"])
        out = tmp_path / "clean"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "newsclean.cli", "run", str(demo_raw), "--out", str(out),
             "--workers", "1", "--no-typos"],
            capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip
        seconds = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr
        assert len(pd.read_parquet(out / "articles")) == 240
        assert warm_server.status() == record  # the run used it and left it running
        print(f"demo run on the warm server: {seconds:.1f} s")
        status = subprocess.run(
            [sys.executable, "-m", "newsclean.cli", "server", "status"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert status.returncode == 0 and record["url"] in status.stdout
        deadline = time.monotonic() + 60
        while process_alive(record["pid"]) and time.monotonic() < deadline:
            time.sleep(1)
        assert not process_alive(record["pid"]) and warm_server.status() is None  # idled out
    finally:
        warm_server.stop()


@pytest.mark.process
@pytest.mark.slow
def test_server_stop_stops_it(tmp_path: Path, monkeypatch) -> None:
    from newsclean import warm_server

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    env = {**os.environ, "COLUMNS": "300"}
    none = subprocess.run(
        [sys.executable, "-m", "newsclean.cli", "server", "status"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert none.returncode == 1 and "no warm Prefect server" in none.stdout
    record = _start(env, idle=600)
    try:
        stopped = subprocess.run(
            [sys.executable, "-m", "newsclean.cli", "server", "stop"],
            capture_output=True, text=True, env=env, timeout=90,
        )  # fmt: skip
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert not process_alive(record["pid"]) and warm_server.status() is None
    finally:
        warm_server.stop()
