"""Installing newsclean adds one top-level import name, ``newsclean``; the repository's flows/
and tasks/ folders are ``newsclean.flows`` and ``newsclean.tasks`` however it is run, and a
``tasks.py`` or ``flows.py`` of the user's own in the working directory changes nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REFERENCE, ROOT

pytestmark = [pytest.mark.process, pytest.mark.slow]


_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "data", ".prefect", "build", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis",
)  # fmt: skip


def _python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel .`` of a copy of the source tree (the checkout stays clean)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_NOT_SOURCE)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = (root / "dist").glob("newsclean-*.whl")
    return found


def test_the_wheel_installs_one_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "newsclean",
        wheel.name.split("-py")[0] + ".dist-info",
    }
    top_level = next(n for n in names if n.endswith("top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["newsclean"]
    for data in ("newsclean/tasks/settings.toml", "newsclean/tasks/rules/boilerplate.toml",
                 "newsclean/tasks/rules/fingerprints.json", "newsclean/flows/clean_corpus.py"):  # fmt: skip
        assert data in names


def test_installed_wheel_imports_as_newsclean_only(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == [
        "bin",
        "newsclean",
    ]
    neutral = tmp_path / "elsewhere"
    neutral.mkdir()
    code = (
        "import newsclean, newsclean.flows.clean_corpus, newsclean.tasks.pipeline.steps;"
        "print(newsclean.__file__); print(newsclean.tasks.settings.RUN.batch_size)"
    )
    result = _python(code, neutral, PYTHONPATH=str(target))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[0].startswith(str(target))
    for other in ("tasks", "flows"):
        missing = _python(f"import {other}", neutral, PYTHONPATH=str(target))
        assert "ModuleNotFoundError" in missing.stderr


def test_a_tasks_module_in_the_working_directory_breaks_nothing(tmp_path: Path) -> None:
    """``python -m newsclean.flows.clean_corpus`` from a folder holding its own tasks.py and
    flows.py (which would fail loudly if imported) runs the whole flow."""
    for name in ("tasks.py", "flows.py"):
        (tmp_path / name).write_text("raise ImportError('the user module was imported')\n")
    (tmp_path / "raw").mkdir()
    shutil.copy(REFERENCE, tmp_path / "raw" / REFERENCE.name)
    result = subprocess.run(
        [sys.executable, "-m", "newsclean.flows.clean_corpus", "raw", "clean"],
        cwd=tmp_path,
        env={**os.environ, "PREFECT_HOME": str(tmp_path / ".prefect")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| kept | 1 |" in result.stdout
    assert list((tmp_path / "clean" / "articles").glob("part-*.parquet"))
    cli = subprocess.run(
        [Path(sys.executable).with_name("newsclean"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0 and "serve" in cli.stdout
