"""Scheduled runs: serve the clean-corpus flow as a Prefect deployment, offline.

Prefect's temporary server registers a served deployment but never runs its schedule
(measured: "Cannot schedule flows on an ephemeral server", ../shared/notes/prefect-offline.md).
So when no ``PREFECT_API_URL`` is set, :func:`standing_server` starts a real ``prefect server``
(SQLite under the project-local PREFECT_HOME) in its own process group, waits until its API
answers, points this process and the flow runs it spawns at it, and stops the whole group on
exit — normal end, Ctrl-C or SIGTERM. With ``PREFECT_API_URL`` set, that server is used as is.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from newsclean.prefect_env import api_healthy as healthy
from newsclean.tasks.settings import RUN, SERVE

START_TIMEOUT = SERVE.server_start_timeout


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def start_server(port: int, log: Path) -> subprocess.Popen:
    """``prefect server start`` on 127.0.0.1:``port`` in its own process group (SQLite under
    PREFECT_HOME, output to ``log``), returned once its API answers."""
    url = f"http://127.0.0.1:{port}/api"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", "127.0.0.1", "--port", str(port), "--analytics-off",
    ]  # fmt: skip
    with open(log, "ab") as sink:
        server = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not healthy(url):
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited ({server.returncode}); see {log}")
        if time.monotonic() > deadline:
            stop_group(server)
            raise RuntimeError(f"prefect server did not answer in {START_TIMEOUT:.0f} s")
        time.sleep(0.1)  # a first run waits on this: a health check costs a millisecond
    return server


@contextmanager
def standing_server(port: int = SERVE.port, log: Path | None = None) -> Iterator[str]:
    """The API URL of a standing Prefect server for the duration: the configured one, or a
    local one started (and stopped) here."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        yield configured
        return
    if not _port_free(port):
        raise RuntimeError(f"port {port} is in use: pass --port, or set PREFECT_API_URL")
    url = f"http://127.0.0.1:{port}/api"
    server = start_server(port, log or Path(os.environ["PREFECT_HOME"]) / "server.log")
    try:
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        stop_group(server)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after 20 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def serve(
    raw_dir: Path,
    out_dir: Path,
    cron: str | None,
    interval: float | None,
    port: int,
    name: str,
    parameters: dict,
) -> None:
    """Serve the flow with a schedule until interrupted (SIGTERM counts as Ctrl-C, so the
    server this started is always stopped)."""
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    with standing_server(port) as url:
        print(f"Prefect API {url} (UI: {url.removesuffix('/api')}); serving '{name}'", flush=True)
        # Lazy: the flow module imports Prefect, which must see the server's URL first.
        from newsclean.flows.clean_corpus import clean_corpus

        schedule = {"cron": cron} if cron else {"interval": interval}
        try:
            clean_corpus.serve(
                name=name,
                parameters={
                    "raw_dir": str(raw_dir.resolve()),
                    "out_dir": str(out_dir.resolve()),
                    "lock_wait": RUN.scheduled_lock_wait,
                    **parameters,
                },
                limit=1,
                print_starting_message=False,
                **schedule,
            )
        except KeyboardInterrupt:
            print("stopping", flush=True)
