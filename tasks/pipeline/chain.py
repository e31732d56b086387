"""The chain: every step of a run, in order, declared once as data.

The Prefect flow (:mod:`newsclean.flows.clean_corpus`), the in-process runner that tests and
benches use (:func:`newsclean.tasks.pipeline.steps.run_inline`) and the docs all walk this
declaration; nothing else lists the steps. There are two kinds of step:

* a :class:`UnitPass` applies a list of stages to every batch of every work unit, in the
  worker pool (Prefect maps it over the units); ``source`` says what it reads (the raw files,
  or the staged documents of an earlier pass), ``output`` what it stages (the documents and
  their edits again, or only the columns its stages add, beside them);
* a :class:`RunStep` works on the whole run at once (compare the raw folder with the manifest,
  sum the vocabulary, decide duplicates, learn boilerplate, publish, report); ``publish``
  applies stages too, to the kept articles only.

A step with ``when`` runs only when that run parameter is true; one with ``fresh_workers``
starts from a new worker pool, so one phase's memory (cleaning buffers, typo dictionaries)
never stacks on another's; a pass that ``joins_previous`` runs in the jobs of the unit pass
before it, on the documents that pass has just staged. To add a stage, write it
(:mod:`newsclean.tasks.stages.base`) and name it in a pass below, or, for one run, override a
pass's stage list with the ``stages`` run parameter (``{"clean-unit": [...]}``): a reference is
a registered name (``normalize``), an exact version (``normalize/1``) or an importable class
(``package.module:Class``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class UnitPass:
    name: str
    stages: tuple[str, ...]
    source: str  # "raw" | "docs"
    output: str  # "docs" | "sketch"
    when: str | None = None
    description: str = ""
    #: Also stage each batch's word counts (when the run corrects typos).
    counts_vocabulary: bool = False
    #: Run the stages on slices of this many documents (bounds a stage's transient memory).
    slice_rows: int = 0
    #: Start from fresh worker processes: the previous phase's memory is not stacked on this.
    fresh_workers: bool = False
    #: Run in the same job as the unit pass right before it (when that one runs and stages
    #: documents), on the documents it has just staged: no phase of its own, no second read of
    #: the staging, no barrier between the two (:meth:`Chain.joined_to`).
    joins_previous: bool = False


@dataclass(frozen=True)
class RunStep:
    name: str
    when: str | None = None
    stages: tuple[str, ...] = ()
    description: str = ""
    fresh_workers: bool = False


Step = UnitPass | RunStep


@dataclass(frozen=True)
class Chain:
    steps: tuple[Step, ...]

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no step {name!r} in the chain ({', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.steps]

    def joined_to(self, step: Step, enabled: Callable[[Step], bool]) -> UnitPass | None:
        """The pass that runs in ``step``'s jobs: the next enabled step, when it is a unit
        pass that ``joins_previous``, reads staged documents and stages only what it adds,
        and ``step`` is a unit pass that stages documents."""
        if not isinstance(step, UnitPass) or step.output != "docs":
            return None
        following = [s for s in self.steps[self.steps.index(step) + 1 :] if enabled(s)]
        joined = following[0] if following else None
        if (
            isinstance(joined, UnitPass)
            and joined.joins_previous
            and joined.source == "docs"
            and joined.output == "sketch"
        ):
            return joined
        return None

    def runs_joined(self, step: Step, enabled: Callable[[Step], bool]) -> bool:
        """Whether ``step`` runs inside the jobs of the pass before it (so not on its own)."""
        earlier = [s for s in self.steps[: self.steps.index(step)] if enabled(s)]
        return bool(earlier) and self.joined_to(earlier[-1], enabled) is step

    def with_stages(self, overrides: Mapping[str, Sequence[str]]) -> Chain:
        """This chain with some steps' stage lists replaced (a run's ``stages`` parameter)."""
        for name in overrides:
            self.step(name)  # unknown step names fail here, before the run starts
        steps = tuple(
            replace(s, stages=tuple(overrides[s.name])) if s.name in overrides else s
            for s in self.steps
        )
        return Chain(steps)


CHAIN = Chain(
    (
        RunStep("scan-raw", description="raw files new or changed since the manifest"),
        RunStep("plan-units", description="the files to process, split into work units"),
        UnitPass(
            "clean-unit",
            (
                "normalize",
                "spacing",
                "language",
                "boilerplate",
                "reflow",
                "spelling",
                "drop-empty",
                "derive",
                "url-canonical",
                "authors",
                "dates",
                "pages",
            ),
            source="raw",
            output="docs",
            description="ingest and clean each batch; count words for the typo pass",
            counts_vocabulary=True,
        ),
        RunStep(
            "merge-vocabulary",
            when="typos",
            description="the run's corpus word counts",
            fresh_workers=True,
        ),
        UnitPass(
            "correct-typos",
            ("typos", "derive"),
            source="docs",
            output="docs",
            when="typos",
            description="typo correction with the run's vocabulary",
            slice_rows=500,  # the typo stage tokenizes whole batches in Arrow
            fresh_workers=True,
        ),
        UnitPass(
            "sketch-unit",
            ("sketch", "line-hashes"),
            source="docs",
            output="sketch",
            description="MinHash sketches and short-line hashes of the final texts",
            fresh_workers=True,
            # in the typo pass's jobs (or the clean pass's, without typos): the same stages
            # on the same documents, without a phase that reads every unit again
            joins_previous=True,
        ),
        RunStep(
            "dedup",
            description="exact and near duplicates, against the dataset too",
            fresh_workers=True,  # a sketch worker's buffers stay out of the decision's
        ),
        RunStep(
            "learn-boilerplate",
            when="learn_boilerplate",
            description="lines each publisher repeats across stories",
            # the decision's tables stay out of the learner's: at 1 GB the dedup worker kept
            # 1 GB while the learner took 0.85 GB in the other worker (measured)
            fresh_workers=True,
        ),
        RunStep(
            "publish",
            stages=("learned-boilerplate", "derive"),
            description="kept articles cleaned of learned lines; one journaled commit",
            fresh_workers=True,  # the decision's and the learner's buffers stay out of it
        ),
        RunStep(
            "report",
            description="runs/<id>.json and reports/<id>.html",
            # the publish workers' buffers stay out of it: at 1 GB the run's memory peaked
            # here, two idle publish workers of 446 and 347 MB beside the examples job
            fresh_workers=True,
        ),
    )
)
