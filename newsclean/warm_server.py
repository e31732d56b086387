"""The warm server of one-off runs: a local Prefect server that the first ``newsclean run``
starts and later runs reuse, which stops itself after ``[server] idle_seconds`` unused.

Why: a run's flow over the 1.2 MB demo takes 3.5 s, but starting and stopping Prefect's
temporary server around it took about 15 s more, every run. The keeper is a small detached
process (its own session, so the run that started it can exit) that starts ``prefect server``
(:func:`newsclean.serve.start_server`), records it in ``PREFECT_HOME/newsclean-server.json``
and watches two files beside it: a run holds a shared ``flock`` on ``…inuse`` while it uses
the server and touches ``…stamp`` when it ends; the keeper stops the server's process group
once nobody holds the lock and the stamp is older than the idle time. ``newsclean server
status`` and ``stop`` read the same record. With ``PREFECT_API_URL`` set, or
``NEWSCLEAN_WARM_SERVER=0``, or ``idle_seconds = 0``, none of this runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from newsclean.serve import healthy, start_server, stop_group
from newsclean.tasks.settings import SERVER

STATE = "newsclean-server.json"
POLL_SECONDS = 2.0


def _home() -> Path:
    return Path(os.environ["PREFECT_HOME"])


def enabled() -> bool:
    """A run should use (and start) the warm server: no Prefect API is configured, in the
    environment or in the active Prefect profile, and it is not turned off."""
    return (
        not os.environ.get("PREFECT_API_URL")
        and not _profile_api_url()
        and os.environ.get("NEWSCLEAN_WARM_SERVER", "1") != "0"
        and SERVER.idle_seconds > 0
    )


def _profile_api_url() -> str | None:
    """PREFECT_API_URL of the active profile in PREFECT_HOME/profiles.toml (``prefect config
    set`` writes it there), read without importing Prefect."""
    path = _home() / "profiles.toml"
    try:
        profiles = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    value = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(value) if value else None


def status() -> dict[str, Any] | None:
    """The running warm server's record (pid, url, started, idle_seconds), or None; a record
    whose keeper is gone or whose server does not answer is removed."""
    path = _home() / STATE
    try:
        record = json.loads(path.read_text())
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError):
        path.unlink(missing_ok=True)
        return None
    return record if healthy(record["url"]) else None


def start(idle_seconds: float = SERVER.idle_seconds) -> dict[str, Any]:
    """The warm server's record: the running one, or one started now (waits until its API
    answers; fails with the keeper's log when it does not)."""
    record = status()
    if record is not None:
        return record
    home = _home()
    log = home / "newsclean-server.log"
    with open(log, "ab") as sink:
        keeper = subprocess.Popen(
            [sys.executable, "-m", "newsclean.warm_server", str(idle_seconds)],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=os.environ.copy(),
        )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        record = status()
        if record is not None and record["pid"] == keeper.pid:
            return record
        if keeper.poll() is not None:
            raise RuntimeError(f"the warm Prefect server did not start; see {log}")
        time.sleep(0.3)
    stop()
    raise RuntimeError(f"the warm Prefect server did not answer in 180 s; see {log}")


def stop() -> bool:
    """Stop the warm server (its keeper and server); True when one was running."""
    path = _home() / STATE
    try:
        pid = int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)  # the keeper leads its session's process group
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + 30
    while process_alive(pid) and time.monotonic() < deadline:  # it stops the server, then exits
        time.sleep(0.2)
    path.unlink(missing_ok=True)
    return True


def process_alive(pid: int) -> bool:
    """Whether a process of this pid exists (a zombie child counts: reap your children)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def in_use() -> Iterator[None]:
    """Hold the server for a run: a shared lock the keeper sees, then a fresh stamp."""
    home = _home()
    with open(home / f"{STATE}.inuse", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            (home / f"{STATE}.stamp").touch()


def _idle(home: Path, handle: TextIO, idle_seconds: float) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a run holds it
    fcntl.flock(handle, fcntl.LOCK_UN)
    stamp = home / f"{STATE}.stamp"
    last = stamp.stat().st_mtime if stamp.exists() else 0.0
    return time.time() - last > idle_seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keep(idle_seconds: float) -> None:
    """The keeper (``python -m newsclean.warm_server IDLE``): start the server, record it,
    stop it when idle (or on SIGTERM), remove the record."""
    home = _home()
    port = _free_port()
    server = start_server(port, home / "newsclean-server.log")
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    (home / f"{STATE}.stamp").touch()
    record = {
        "pid": os.getpid(),
        "url": f"http://127.0.0.1:{port}/api",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "idle_seconds": idle_seconds,
    }
    (home / STATE).write_text(json.dumps(record))
    try:
        with open(home / f"{STATE}.inuse", "a+") as handle:
            while not stopping and server.poll() is None and not _idle(home, handle, idle_seconds):
                time.sleep(POLL_SECONDS)
    finally:
        (home / STATE).unlink(missing_ok=True)
        stop_group(server)


if __name__ == "__main__":
    import newsclean.prefect_env  # noqa: F401  (PREFECT_HOME and telemetry, as for runs)

    keep(float(sys.argv[1]))
