"""The Prefect server of a `newsclean run` (newsclean/run_server.py): which one is used, that
its start does not block the run's imports, and that nothing is left running."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from newsclean import prefect_env, run_server, warm_server
from newsclean.prefect_env import TemporaryServer, api_healthy, temporary_api
from newsclean.run_server import RunServer


class _FakeTemporary:
    """Stands in for a server process in the decision tests (no process is started)."""

    url = "http://127.0.0.1:1/api"

    def __init__(self) -> None:
        self.waited = False

    def wait_ready(self) -> None:
        self.waited = True

    def exited(self) -> bool:
        return False

    def stop(self) -> None:
        pass


@pytest.fixture
def no_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    _unset_api(monkeypatch)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    return monkeypatch


def _unset_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PREFECT_API_URL, and none left behind: the code under test sets it, and
    ``delenv`` of an unset variable would not undo that (later CLI tests would inherit it)."""
    monkeypatch.setenv("PREFECT_API_URL", "")
    monkeypatch.delenv("PREFECT_API_URL")


def _no_exit_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """``RunServer`` registers no exit hook for its servers in this test. Only run_server's
    reference to ``atexit`` is replaced: patching ``atexit.register`` itself swallowed the
    hook Prefect registers for an ephemeral server it starts meanwhile, and that server
    outlived pytest (found orphaned after ``pytest -m "unit and not slow"``)."""
    monkeypatch.setattr(run_server, "atexit", SimpleNamespace(register=lambda fn: None))


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No configured API; the session's PREFECT_HOME (its database is set up once)."""
    _unset_api(monkeypatch)
    return monkeypatch


@pytest.mark.unit
def test_a_configured_api_is_used_as_it_is(no_api: pytest.MonkeyPatch) -> None:
    no_api.setenv("PREFECT_API_URL", "http://prefect.internal:4200/api")
    no_api.setattr(TemporaryServer, "launch", lambda: pytest.fail("no server may start"))
    no_api.setattr(warm_server, "launch", lambda: pytest.fail("no server may start"))
    server = RunServer.begin()
    assert server.warm is None and server.temporary is None and not server.died()
    assert os.environ["PREFECT_API_URL"] == "http://prefect.internal:4200/api"


@pytest.mark.unit
def test_the_warm_server_is_pointed_at_before_it_answers(no_api: pytest.MonkeyPatch) -> None:
    no_api.setenv("NEWSCLEAN_WARM_SERVER", "1")
    launch = warm_server.Launch(None, "http://127.0.0.1:5/api", {"pid": 1, "url": "x"})
    no_api.setattr(warm_server, "launch", lambda: launch)
    server = RunServer.begin()
    assert server.warm is launch and server.temporary is None
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:5/api"  # before Prefect's import


@pytest.mark.unit
def test_without_the_warm_server_a_temporary_one_is_launched(no_api: pytest.MonkeyPatch) -> None:
    no_api.setenv("NEWSCLEAN_WARM_SERVER", "0")
    fake = _FakeTemporary()
    no_api.setattr(TemporaryServer, "launch", lambda: fake)
    _no_exit_hook(no_api)
    # nothing to send to a stand-in: Prefect would start an ephemeral server to drain to
    no_api.setattr(prefect_env, "_drain_to_api", lambda: None)
    server = RunServer.begin()
    assert server.temporary is fake and server.warm is None and not fake.waited
    assert os.environ["PREFECT_API_URL"] == fake.url
    server.ready(print)
    assert fake.waited
    with server.held():
        assert os.environ["PREFECT_API_URL"] == fake.url
    assert "PREFECT_API_URL" not in os.environ  # a CLI run in this process leaves none behind


@pytest.mark.unit
def test_a_warm_server_that_does_not_start_falls_back_to_a_temporary_one(
    no_api: pytest.MonkeyPatch,
) -> None:
    class Broken(warm_server.Launch):
        def wait(self) -> dict:
            raise RuntimeError("the warm Prefect server did not start; see its log")

    fake = _FakeTemporary()
    no_api.setattr(TemporaryServer, "launch", lambda: fake)
    _no_exit_hook(no_api)
    server = RunServer(warm=Broken(None, "http://127.0.0.1:5/api"))
    said: list[str] = []
    server.ready(said.append)
    assert said == [
        "the warm Prefect server did not start; see its log: this run starts a temporary "
        "server instead"
    ]
    assert server.warm is None and server.temporary is fake and fake.waited and server.fallback
    assert os.environ["PREFECT_API_URL"] == fake.url


@pytest.mark.unit
def test_a_warm_server_that_cannot_be_launched_is_said_and_replaced(
    no_api: pytest.MonkeyPatch,
) -> None:
    no_api.setenv("NEWSCLEAN_WARM_SERVER", "1")

    def unlaunchable() -> warm_server.Launch:
        raise OSError("[Errno 28] No space left on device")

    fake = _FakeTemporary()
    no_api.setattr(warm_server, "launch", unlaunchable)
    no_api.setattr(TemporaryServer, "launch", lambda: fake)
    _no_exit_hook(no_api)
    server = RunServer.begin()
    assert server.temporary is fake and server.warm is None
    said: list[str] = []
    server.ready(said.append)
    assert said == [
        "the warm Prefect server could not be launched ([Errno 28] No space left on device): "
        "this run starts a temporary server instead"
    ]
    assert fake.waited


@pytest.mark.process
def test_a_temporary_server_answers_is_exported_and_is_stopped(own_server) -> None:
    started = time.monotonic()
    server = TemporaryServer.launch()
    launched = time.monotonic() - started
    try:
        assert launched < 1.0, launched  # launching does not wait for the server
        assert not server.exited()
        with temporary_api(server):
            assert os.environ["PREFECT_API_URL"] == server.url
            server.wait_ready()
            assert api_healthy(server.url)
        assert server.exited() and not api_healthy(server.url)
        assert "PREFECT_API_URL" not in os.environ
    finally:
        server.stop()


@pytest.mark.process
def test_a_temporary_server_that_dies_is_reported_not_waited_for(own_server) -> None:
    server = TemporaryServer.launch()
    try:
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        assert server.exited() and RunServer(temporary=server).died()
        with pytest.raises(RuntimeError, match="the temporary Prefect server exited"):
            server.wait_ready(timeout=30)
    finally:
        server.stop()


@pytest.mark.process
@pytest.mark.slow
def test_a_warm_server_launch_returns_before_the_server_answers(
    no_api: pytest.MonkeyPatch,
) -> None:
    started = time.monotonic()
    launch = warm_server.launch(idle_seconds=600)
    launched = time.monotonic() - started
    try:
        assert launched < 1.0, launched
        assert launch.record is None and launch.keeper is not None
        record = launch.wait()
        assert record["url"] == launch.url and record["pid"] == launch.keeper.pid
        assert warm_server.status() == record  # the next run finds it
        again = warm_server.launch()
        assert again.keeper is None and again.wait() == record
    finally:
        stopping = time.monotonic()
        warm_server.stop()
    # the keeper is this process's child: stop() reaps it instead of waiting for a zombie
    assert time.monotonic() - stopping < 20 and not warm_server.process_alive(launch.keeper.pid)


@pytest.mark.process
def test_a_port_taken_before_the_server_binds_it_gets_a_new_server(own_server) -> None:
    """The port is picked before the server starts (its URL must be known before Prefect's
    import); another process may take it meanwhile. Here one does: the server exits, and the
    run gets a server on another port instead of failing."""
    import socket

    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    ports = iter([taken])
    real_free_port = prefect_env.free_port
    own_server.setattr(prefect_env, "free_port", lambda: next(ports, None) or real_free_port())
    _no_exit_hook(own_server)
    server = RunServer(temporary=RunServer._temporary())
    try:
        assert server.temporary.url == f"http://127.0.0.1:{taken}/api"
        server.ready(print)
        assert server.fallback and server.temporary.url != f"http://127.0.0.1:{taken}/api"
        assert api_healthy(server.temporary.url)
        assert os.environ["PREFECT_API_URL"] == server.temporary.url
    finally:
        server.close()
        squatter.close()
    assert server.temporary.exited()
