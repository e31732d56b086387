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
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from newsclean.prefect_env import free_port
from newsclean.serve import healthy, start_server, stop_group
from newsclean.tasks.settings import SERVER

STATE = "newsclean-server.json"
LOG = "newsclean-server.log"
POLL_SECONDS = 2.0


def _home() -> Path:
    return Path(os.environ["PREFECT_HOME"])


def enabled() -> bool:
    """A run should use (and start) the warm server: no Prefect API is configured, in the
    environment or in the active Prefect profile, and it is not turned off."""
    return (
        not configured_api_url()
        and os.environ.get("NEWSCLEAN_WARM_SERVER", "1") != "0"
        and SERVER.idle_seconds > 0
    )


def configured_api_url() -> str | None:
    """The Prefect API the user configured: ``PREFECT_API_URL`` in the environment or in the
    active profile."""
    return os.environ.get("PREFECT_API_URL") or _profile_api_url()


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


@dataclass
class Launch:
    """A warm server being started: its URL is known at once (so a run can point Prefect at
    it before importing Prefect), its API answers once :meth:`wait` returns."""

    keeper: subprocess.Popen[bytes] | None
    url: str
    record: dict[str, Any] | None = None

    def wait(self) -> dict[str, Any]:
        """The server's record once its API answers (fails with the keeper's log when it
        does not start)."""
        if self.record is not None:
            return self.record
        assert self.keeper is not None
        log = _home() / LOG
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            record = status()
            if record is not None and record["pid"] == self.keeper.pid:
                self.record = record
                return record
            if self.keeper.poll() is not None:
                raise RuntimeError(f"the warm Prefect server did not start; see {log}")
            time.sleep(0.1)
        stop()
        raise RuntimeError(f"the warm Prefect server did not answer in 180 s; see {log}")


def launch(idle_seconds: float = SERVER.idle_seconds) -> Launch:
    """The running warm server, or one whose start begins now (without waiting for it).

    Why not wait: its start (about 5 s) then overlaps the run's own Prefect import and the
    loading of its worker pool instead of coming before them.
    """
    record = status()
    if record is not None:
        return Launch(None, record["url"], record)
    port = free_port()
    with open(_home() / LOG, "ab") as sink:
        keeper = subprocess.Popen(
            [sys.executable, "-m", "newsclean.warm_server", str(idle_seconds), str(port)],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=os.environ.copy(),
        )  # fmt: skip
    return Launch(keeper, f"http://127.0.0.1:{port}/api")


def start(idle_seconds: float = SERVER.idle_seconds) -> dict[str, Any]:
    """The warm server's record: the running one, or one started now (waits until its API
    answers; fails with the keeper's log when it does not)."""
    return launch(idle_seconds).wait()


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
    """Whether a process of this pid runs. A child of this process that has exited is reaped
    here: as a zombie it would still answer ``kill(pid, 0)`` (a run that launched the keeper
    and then stops it would wait out the whole deadline, measured 30 s)."""
    try:
        reaped, _status = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child (or already reaped): ask the kernel
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


def write_record(home: Path, record: dict[str, Any]) -> None:
    """Write the server's record whole (a temp file renamed over it).

    Why: a run reads the record (:func:`status`) while the keeper writes it, and takes an
    unreadable one for a stale one and removes it. Written in place, a reader could find it
    empty; the run then waited for a record that was gone until the keeper idled out ("the
    warm Prefect server did not start", seen once in CI on a loaded machine)."""
    temp = home / f".{STATE}.{os.getpid()}.tmp"
    temp.write_text(json.dumps(record))
    os.replace(temp, home / STATE)


def keep(idle_seconds: float, port: int) -> None:
    """The keeper (``python -m newsclean.warm_server IDLE PORT``): start the server, record
    it, stop it when idle (or on SIGTERM), remove the record."""
    home = _home()
    server = start_server(port, home / LOG)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    (home / f"{STATE}.stamp").touch()
    record = {
        "pid": os.getpid(),
        "url": f"http://127.0.0.1:{port}/api",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "idle_seconds": idle_seconds,
    }
    write_record(home, record)
    try:
        with open(home / f"{STATE}.inuse", "a+") as handle:
            while not stopping and server.poll() is None and not _idle(home, handle, idle_seconds):
                time.sleep(POLL_SECONDS)
    finally:
        (home / STATE).unlink(missing_ok=True)
        stop_group(server)


if __name__ == "__main__":
    import newsclean.prefect_env  # noqa: F401  (PREFECT_HOME and telemetry, as for runs)

    keep(float(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else free_port())
