"""The Prefect server a ``newsclean run`` uses, and when it starts.

Three cases, decided before Prefect is imported (it reads ``PREFECT_API_URL`` once):

* ``PREFECT_API_URL`` is configured (environment or active profile): that server, as it is;
* the warm server is on (the default, :mod:`newsclean.warm_server`): the running one, or one
  whose start begins now;
* otherwise (``NEWSCLEAN_WARM_SERVER=0``, tests): a temporary server of this run
  (:class:`newsclean.prefect_env.TemporaryServer`), stopped when the run ends.

Why "begins now": a server takes about 4-5 s to start. Started first and waited for only
just before the flow (:meth:`RunServer.ready`), that time overlaps Prefect's import and the
worker pool's loading of the stages' resources instead of coming before them.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from newsclean import warm_server
from newsclean.prefect_env import PortTaken, TemporaryServer, temporary_api


@dataclass
class RunServer:
    warm: warm_server.Launch | None = None
    temporary: TemporaryServer | None = None
    #: The temporary server replaced one that did not start (after Prefect's import).
    fallback: bool = False
    #: Why the warm server could not even be launched (:meth:`ready` says it).
    warm_error: str | None = None
    #: ``PREFECT_API_URL`` before this run pointed it at its server (:meth:`close` puts it
    #: back: a CLI run inside another process, a test's, must not leave it behind).
    previous_api_url: str | None = None

    @classmethod
    def begin(cls) -> RunServer:
        """Pick the run's server and start it if needed, without waiting for it. Raises
        OSError or RuntimeError when not even a temporary server can be launched."""
        previous = os.environ.get("PREFECT_API_URL")
        if warm_server.configured_api_url():
            return cls(previous_api_url=previous)
        warm_error = None
        if warm_server.enabled():
            try:
                launch = warm_server.launch()
            except (OSError, RuntimeError) as error:
                warm_error = f"the warm Prefect server could not be launched ({error})"
            else:
                os.environ["PREFECT_API_URL"] = launch.url
                return cls(warm=launch, previous_api_url=previous)
        return cls(temporary=cls._temporary(), warm_error=warm_error, previous_api_url=previous)

    @staticmethod
    def _temporary() -> TemporaryServer:
        server = TemporaryServer.launch()
        atexit.register(server.stop)  # an interrupted start-up leaves no server behind
        os.environ["PREFECT_API_URL"] = server.url
        return server

    def ready(self, say: Callable[[str], None]) -> None:
        """Wait until the server answers. A warm server that does not start is reported
        with ``say`` and replaced by a temporary server; a temporary server that does not
        start raises RuntimeError."""
        if self.warm_error is not None:
            say(f"{self.warm_error}: this run starts a temporary server instead")
        if self.warm is not None:
            try:
                self.warm.wait()
                return
            except RuntimeError as error:
                say(f"{error}: this run starts a temporary server instead")
                self.warm = None
                self.temporary = self._temporary()
                self.fallback = True
        if self.temporary is None:
            return
        try:
            self.temporary.wait_ready()
        except PortTaken:  # its port went to another process meanwhile: once more, elsewhere
            self.temporary = self._temporary()
            self.fallback = True  # Prefect, imported by now, reads the new URL from settings
            self.temporary.wait_ready()

    @contextmanager
    def held(self) -> Iterator[None]:
        """For the run's duration: the warm server held (its keeper will not stop it), or
        the temporary server's logs and events delivered and the server stopped after;
        then :meth:`close`."""
        try:
            if self.warm is not None:
                with warm_server.in_use():
                    yield
            elif self.temporary is None:
                yield
            else:
                with temporary_api(self.temporary), self._settings():
                    yield
        finally:
            self.close()

    def close(self) -> None:
        """Stop the temporary server (if any) and put ``PREFECT_API_URL`` back."""
        if self.temporary is not None:
            self.temporary.stop()
        if self.previous_api_url is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = self.previous_api_url

    def _settings(self) -> AbstractContextManager[object]:
        """Prefect imported before a fallback server existed reads its URL from here."""
        if not self.fallback:
            return nullcontext()
        from prefect.settings import PREFECT_API_URL, temporary_settings

        assert self.temporary is not None
        return temporary_settings(updates={PREFECT_API_URL: self.temporary.url})

    def died(self) -> bool:
        """Whether this run's temporary server has exited (other servers are not watched)."""
        return self.temporary is not None and self.temporary.exited()
