"""Shared fixtures. Prefect is imported only inside the harness fixture: importing it at module
level costs seconds for every unit-test run (docs/prefect.md)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import newsclean.prefect_env  # noqa: F401  (telemetry off, PREFECT_HOME, before any prefect import)
from tests.helpers import RAW

# No test leaves a warm Prefect server behind (newsclean/warm_server.py): CLI runs in tests,
# and the processes they start, use a temporary one unless a test asks for it.
os.environ["NEWSCLEAN_WARM_SERVER"] = "0"
# Built resources (tasks/storage/resource_cache.py) go to a folder of this session, never to
# the user's cache: every session builds them once, as a fresh machine does.
if "NEWSCLEAN_CACHE_DIR" not in os.environ:
    os.environ["NEWSCLEAN_CACHE_DIR"] = tempfile.mkdtemp(prefix="newsclean-cache-")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def demo_raw(tmp_path: Path) -> Path:
    """A private copy of the shipped demo data (tests never write into data/raw)."""
    target = tmp_path / "raw"
    shutil.copytree(RAW, target)
    return target


#: Every test says what it needs, so that `pytest -m unit` is the fast set (seconds) and CI,
#: running everything, still runs each test once.
KINDS = ("unit", "process", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wrong = [
        f"{item.nodeid}: {kinds or 'none'}"
        for item in items
        if len(kinds := [k for k in KINDS if item.get_closest_marker(k)]) != 1
    ]
    if wrong:
        raise pytest.UsageError(
            "each test needs exactly one of the markers "
            + ", ".join(KINDS)
            + ":\n"
            + "\n".join(wrong)
        )
