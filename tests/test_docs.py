"""The docs stay true: the README's test command is CI's, and the architecture page names
every step of the chain and every stage a run can use."""

from __future__ import annotations

import re

import pytest

from newsclean.tasks.pipeline.chain import CHAIN
from newsclean.tasks.stages import registered
from tests.helpers import ROOT

pytestmark = pytest.mark.unit


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2  # one to install and run the demo, one to install and test
    assert "newsclean run" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci == commands[1]
    assert "lint-imports" in ci and ci.endswith("pytest")


def test_architecture_page_names_every_step_and_stage() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for step in CHAIN.names:
        assert step in page, step
    shipped = {n for n in registered() if not n.startswith(("t-", "shouting"))}
    for stage in shipped:
        assert re.search(rf"\b{re.escape(stage)}\b", page), stage


def test_cli_help_shows_the_settings_defaults() -> None:
    from typer.testing import CliRunner

    from newsclean.cli import app
    from newsclean.tasks.settings import RUN

    help_text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "250"}).output
    shown = " ".join(help_text.split())
    assert f"[default: {RUN.batch_size}]" in shown
    assert "Near-duplicate Jaccard threshold (default 0.8" in shown
