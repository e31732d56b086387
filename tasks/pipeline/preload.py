"""Imported once by the worker pool's forkserver (:mod:`newsclean.tasks.pipeline.workers`):
every stage of the chain loads its resources here, so every worker forked from that process
starts with them.

Why: symspellpy's index, the bigram list, the spelling variants and py3langid's model cost
about 2.7 s and 180 MB per process (measured; most of them now read back from the resource
cache in about 1 s). Loaded in each worker, they were paid once per
worker and per phase (the chain's ``fresh_workers``); forked from here, once per run, while
the main process starts Prefect (the demo without Prefect: 8.96 s → 5.42 s). The pages are
shared copy-on-write; :func:`gc.freeze` keeps the collector from writing to them (and so
copying them) in every worker. The default chain's stages are loaded whatever the run's
options (a run without typos still has symspellpy in its workers); a stage named only by a
run's ``stages`` override loads its resources itself, on first use, as before.

Before that, pyarrow is told that this process has no pandas (:func:`answer_pandas_probe`).
"""

from __future__ import annotations

import gc
import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pyarrow as pa

from newsclean.tasks.pipeline import dedup_job, learn_job, publish, units  # noqa: F401
from newsclean.tasks.pipeline.chain import CHAIN, Chain
from newsclean.tasks.rules import PACKS, pack
from newsclean.tasks.stages.base import resolve, use_resource_store
from newsclean.tasks.storage.resource_cache import FileResourceStore, default_cache_dir


class _HiddenPandas(importlib.abc.MetaPathFinder):
    """An import finder under which ``import pandas`` fails."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas is hidden while pyarrow looks for it", name=name)
        return None


def answer_pandas_probe() -> None:
    """Let pyarrow find no pandas here, once, so that it never imports it.

    Why: the first time pyarrow converts a Python object (``pa.array`` of a list) it imports
    pandas to ask whether the object is a Series: 0.23 s of the forkserver's start and about
    30 MB of RSS in it and in every worker it forks (measured). Workers build Arrow arrays
    from Python lists all the time and never touch pandas. pyarrow keeps the answer of its
    first look, so pandas is hidden for that one look only: ``import pandas`` and
    ``Table.to_pandas()`` (which imports it on demand) still work afterwards. Nothing is done
    when pandas is imported already.
    """
    if "pandas" in sys.modules:
        return
    finder = _HiddenPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's first conversion: it looks for pandas now
    finally:
        sys.meta_path.remove(finder)


def preload_stages(chain: Chain = CHAIN) -> list[str]:
    """Load the resources of every stage the chain names; returns the stage names."""
    loaded = []
    for step in chain.steps:
        for reference in step.stages:
            stage = resolve(reference)
            stage.preload()
            loaded.append(stage.name)
    return loaded


def preload_rule_packs() -> None:
    """Load, validate and compile every shipped rule pack (each is cached per process).

    Why: the stages load their packs when a worker builds them. Each worker used to parse the
    TOML, check every screen against RE2 and compile every pattern again, once per worker and
    phase: 0.8 s of worker CPU in a 100 MB run (py-spy, 2026-12-03), more than the whole
    flow's share of some stages."""
    for name in PACKS:
        pack(name)


answer_pandas_probe()
use_resource_store(FileResourceStore(default_cache_dir()))  # built once, read by later runs
PRELOADED = preload_stages()
preload_rule_packs()
gc.freeze()
