"""Watch the temporary Prefect server of a CLI run, so that losing it ends the run with one
line in seconds rather than minutes of retries and event dumps (issue 13).

Why a watch: a run's tasks keep working when the server dies (they report through Prefect's
event queue), so the dataset is usually committed seconds later; but every later call the
flow makes to the API is retried with exponential back-off (about a minute each) and the
queued events are retried and logged one by one at exit: 150 s and 500 lines. The CLI
knows better: once the server is gone and the run has written its summary (or gone quiet),
it says what the dataset is and exits at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ServerWatch:
    """Polls the run's temporary server (``died``: whether it has exited, see
    :meth:`newsclean.run_server.RunServer.died`); once it died, calls ``on_lost(reported)``
    when the run has written its summary (a ``reported`` progress event, :meth:`progressed`)
    or has published no progress event for ``idle_seconds``."""

    def __init__(
        self,
        on_lost: Callable[[bool], None],
        died: Callable[[], bool],
        poll_seconds: float = 0.5,
        idle_seconds: float = 300.0,
    ) -> None:
        self.on_lost = on_lost
        self.poll_seconds = poll_seconds
        self.idle_seconds = idle_seconds
        self.died = died
        self._stop = threading.Event()
        self._reported = threading.Event()
        self._last_progress = time.monotonic()
        self._thread = threading.Thread(target=self._watch, name="newsclean-server-watch")
        self._thread.daemon = True

    def start(self) -> ServerWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def progressed(self, event: str) -> None:
        """A progress event of the run (``reported``: its summary is written)."""
        self._last_progress = time.monotonic()
        if event == "reported":
            self._reported.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            if self.died():
                break
        else:
            return
        while not self._stop.is_set() and not self._reported.is_set():
            if time.monotonic() - self._last_progress > self.idle_seconds:
                break
            self._reported.wait(self.poll_seconds)
        if not self._stop.is_set():
            self.on_lost(self._reported.is_set())
