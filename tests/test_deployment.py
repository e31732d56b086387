"""prefect.yaml stays in step with the flow it deploys."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers import REFERENCE, ROOT


@pytest.mark.unit
def test_prefect_yaml_deploys_the_flow_with_valid_parameters() -> None:
    from newsclean.flows.clean_corpus import clean_corpus

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = config["deployments"]
    path, name = deployment["entrypoint"].split(":")
    assert (ROOT / path).is_file() and name == "clean_corpus"
    accepted = set(inspect.signature(clean_corpus.fn).parameters)
    assert set(deployment["parameters"]) <= accepted
    assert deployment["schedules"][0]["cron"] == "0 * * * *"
    assert deployment["work_pool"]["name"] == "newsclean-pool"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def standing_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real `prefect server` on a free port, with its own PREFECT_HOME; the environment to
    talk to it."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--analytics-off"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.5)
        yield {**env, "PREFECT_API_URL": url}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.process
@pytest.mark.slow
def test_prefect_deploy_registers_the_flow_and_a_worker_runs_it(
    standing_server: dict[str, str], tmp_path: Path
) -> None:
    """`prefect deploy --all` from prefect.yaml (the entrypoint is the flows/ file of the
    repository root) and one scheduled-style run through a process worker."""

    def prefect(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=ROOT,
            env=standing_server,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert prefect("work-pool", "create", "newsclean-pool", "--type", "process").returncode == 0
    deployed = prefect("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    # The hourly schedule must not race the test's run at an hour boundary: a scheduled run
    # due now would be the one the worker picks (and it would clean the repository's data/).
    cleared = prefect("deployment", "schedule", "clear", "clean-corpus/newsclean-hourly", "-y")
    assert cleared.returncode == 0, cleared.stderr[-3000:]
    raw, out = tmp_path / "raw", tmp_path / "clean"
    raw.mkdir()
    shutil.copy(REFERENCE, raw / REFERENCE.name)
    started = prefect(
        "deployment", "run", "clean-corpus/newsclean-hourly",
        "--param", f"raw_dir={raw}", "--param", f"out_dir={out}",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr[-3000:]
    worker = prefect("worker", "start", "--pool", "newsclean-pool", "--run-once")
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert "Finished in state Completed()" in worker.stdout + worker.stderr
    summary = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert summary["kept"] == 1 and summary["raw_dir"] == str(raw)


@pytest.mark.unit
def test_scheduled_lock_wait_is_the_settings_value() -> None:
    """prefect.yaml cannot read settings.toml: its one parameter must agree with it."""
    from newsclean.tasks.settings import RUN

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = config["deployments"]
    assert deployment["parameters"] == {"lock_wait": RUN.scheduled_lock_wait}
