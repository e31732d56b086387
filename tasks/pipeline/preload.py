"""Imported once by the worker pool's forkserver (:mod:`newsclean.tasks.pipeline.workers`):
every stage of the chain loads its resources here, so every worker forked from that process
starts with them.

Why: symspellpy's index, the bigram list, the spelling variants and py3langid's model cost
about 2.7 s and 180 MB per process (measured). Loaded in each worker, they were paid once per
worker and per phase (the chain's ``fresh_workers``); forked from here, once per run, while
the main process starts Prefect (the demo without Prefect: 8.96 s → 5.42 s). The pages are
shared copy-on-write; :func:`gc.freeze` keeps the collector from writing to them (and so
copying them) in every worker. The default chain's stages are loaded whatever the run's
options (a run without typos still has symspellpy in its workers); a stage named only by a
run's ``stages`` override loads its resources itself, on first use, as before.
"""

from __future__ import annotations

import gc

from newsclean.tasks.pipeline import dedup_job, learn_job, publish, units  # noqa: F401
from newsclean.tasks.pipeline.chain import CHAIN, Chain
from newsclean.tasks.stages.base import resolve, use_resource_store
from newsclean.tasks.storage.resource_cache import FileResourceStore, default_cache_dir


def preload_stages(chain: Chain = CHAIN) -> list[str]:
    """Load the resources of every stage the chain names; returns the stage names."""
    loaded = []
    for step in chain.steps:
        for reference in step.stages:
            stage = resolve(reference)
            stage.preload()
            loaded.append(stage.name)
    return loaded


use_resource_store(FileResourceStore(default_cache_dir()))  # built once, read by later runs
PRELOADED = preload_stages()
gc.freeze()
