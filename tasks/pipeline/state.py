"""A run's parameters and the state its steps hand each other.

:class:`RunParams` are what a user sets (the flow's parameters, the CLI's options); their
defaults come from ``settings.toml`` and the rule packs, nowhere else. :class:`RunState` is
small and picklable: paths, counts and summaries, never table data, so it can cross into a
Prefect task, a worker process or a Dask worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from newsclean.tasks.pipeline.chain import CHAIN, Chain, Step
from newsclean.tasks.pipeline.workers import default_workers
from newsclean.tasks.settings import RUN
from newsclean.tasks.stages.minhash import NearDupConfig, default_config
from newsclean.tasks.stages.typos import parse_word_list
from newsclean.tasks.storage.ingest import WorkUnit
from newsclean.tasks.storage.run_state import RunContext


@dataclass(frozen=True)
class RunParams:
    """What one run is asked to do (the flow's parameters)."""

    raw_dir: str = RUN.raw_dir
    out_dir: str = RUN.out_dir
    batch_size: int = RUN.batch_size
    workers: int = RUN.workers
    unit_bytes: int = RUN.unit_bytes
    max_doc_bytes: int = RUN.max_doc_bytes
    typos: bool = RUN.typos
    keep_words: str | None = None
    near_threshold: float | None = None
    shingle_words: int | None = None
    permutations: int | None = None
    merge_number_variants: bool = False
    keep_policy: tuple[str, ...] | None = None
    full: bool = False
    #: Languages kept in ``articles/`` (ISO 639-1); the others go to ``other_languages/``.
    languages: tuple[str, ...] | None = None
    #: Page kinds kept in ``articles/``; the others go to ``other_kinds/``.
    keep_kinds: tuple[str, ...] | None = None
    lock_wait: float = RUN.lock_wait
    learn_boilerplate: bool = RUN.learn_boilerplate
    inline: bool = False
    #: Stage lists that replace a step's for this run: ``{"clean-unit": ["normalize", …]}``.
    stages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of_flow(cls, **parameters: Any) -> RunParams:
        """The RunParams of these clean-corpus flow parameters (the others take the defaults,
        which are the flow's: tests/test_flow.py checks both). Prefect-free, so that
        ``newsclean run`` can begin the run while Prefect is still being imported."""
        values = dict(parameters)
        if "workers_count" in values:
            values["workers"] = values.pop("workers_count")
        for name in ("keep_policy", "languages", "keep_kinds"):  # lists over the API
            values[name] = tuple(values[name]) if values.get(name) else None
        stages = values.get("stages") or {}
        values["stages"] = {name: tuple(refs) for name, refs in stages.items()}
        return cls(**values)

    def enabled(self, step: Step) -> bool:
        return step.when is None or bool(getattr(self, step.when))

    def near_dup(self) -> NearDupConfig:
        return default_config().with_overrides(
            threshold=self.near_threshold,
            shingle_words=self.shingle_words,
            permutations=self.permutations,
            numbers_must_match=False if self.merge_number_variants else None,
            keep_policy=self.keep_policy,
        )

    def chain(self) -> Chain:
        return CHAIN.with_stages(self.stages) if self.stages else CHAIN

    def n_workers(self) -> int:
        return 1 if self.inline else self.workers or default_workers()

    def keep_word_list(self) -> tuple[str, ...]:
        if not self.keep_words:
            return ()
        return tuple(parse_word_list(Path(self.keep_words).read_text("utf-8")))


@dataclass
class RunState:
    """What the steps of one run know, step by step."""

    params: RunParams
    run: RunContext
    config: NearDupConfig
    chain: Chain
    n_workers: int
    started: float = field(default_factory=time.time)
    #: Steps a head start ran before the flow began (:mod:`newsclean.tasks.pipeline.ahead`).
    ahead: tuple[str, ...] = ()
    scan: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    units: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[int, list[str]] = field(default_factory=dict)
    vocabulary: str | None = None
    vocabulary_words: int = 0
    dedup: dict[str, Any] = field(default_factory=dict)
    learned: dict[str, Any] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def updated(self, **changes: Any) -> RunState:
        return replace(self, **changes)

    def work_units(self) -> list[WorkUnit]:
        """The planned units that have not failed."""
        units = [WorkUnit(**{**u, "files": tuple(u["files"])}) for u in self.plan.get("units", [])]
        return [u for u in units if u.index not in self.failed]

    def failed_files(self) -> list[str]:
        return sorted({f for files in self.failed.values() for f in files})
