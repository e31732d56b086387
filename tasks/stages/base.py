"""The stage contract: what every stage declares, and the registry the chain names stages from.

A stage is a small class over a batch of documents (a pyarrow Table, one row per document),
as in datatrove's pipeline steps; like NeMo Curator's stages it declares what it reads, writes
and loads, so the runner (:mod:`newsclean.tasks.pipeline.runner`) can check a chain before it
runs and time and count every stage for free. Stages are pure: no files, no Prefect, no
globals beyond caches of what they load; the same batch gives the same result.

A stage declares:

* ``name`` and ``version``: ``version`` goes up whenever the stage's output for the same
  input changes (its rules have versions of their own); a chain names ``name`` for the newest
  registered version or ``name/N`` for an exact one, so older versions stay runnable, as
  dolma's versioned taggers do;
* ``reads`` and ``writes``: the existing columns it looks at and the ones it may change
  (the runner fails loudly when a stage changes any other column);
* ``adds``: the new columns it creates, with their Arrow types; ``published`` ones reach
  ``articles/``, others stay in the run's staging (the MinHash sketch);
* :meth:`resources`: what it loads (rule packs, dictionaries, models) and their versions, which
  every run records; :meth:`preload` loads them ahead of the first batch (the worker pool
  calls it once per run, in the process it forks workers from);
* :meth:`process`: the work, returning a :class:`~newsclean.tasks.stages.edits.StageResult`.

Run-wide inputs a stage needs (the run's vocabulary, the learned boilerplate set, the near-dup
settings) are handed to :meth:`Stage.build` by the orchestration layer, which loads them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import pyarrow as pa

from newsclean.tasks.stages.edits import StageResult


@dataclass(frozen=True)
class NewColumn:
    """A column a stage adds to the batch."""

    name: str
    type: pa.DataType
    description: str
    published: bool = True

    def field(self) -> pa.Field:
        return pa.field(self.name, self.type)

    def append(self, batch: pa.Table, values: list | pa.Array) -> pa.Table:
        """``batch`` with this column added, built with the declared type (a list of Python
        values for an empty batch would otherwise become a null-typed column)."""
        column = values if isinstance(values, pa.Array) else pa.array(values, self.type)
        return batch.append_column(self.field(), column.cast(self.type))


@dataclass(frozen=True)
class BatchContext:
    """What the runner tells a stage besides the batch: ``changed`` marks the rows whose
    ``text`` an earlier stage of the same pass changed (``None``: unknown, treat all rows as
    changed), so that derived columns are computed once per changed document."""

    changed: np.ndarray | None = None


#: Run-wide inputs given to :meth:`Stage.build` by the orchestration layer. Known keys:
#: ``near_dup`` (NearDupConfig), ``corrector`` (typos.Corrector), ``learned``
#: (learned.LearnedSet or None), ``ingested_at`` (the run's start, UTC).
RunInputs = Mapping[str, Any]


class Stage:
    """Base class of every stage; subclasses set the class attributes and :meth:`process`."""

    name: ClassVar[str]
    version: ClassVar[int]
    description: ClassVar[str] = ""
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    adds: tuple[NewColumn, ...] = ()
    #: A filter stage returns ``keep``; the runner drops the other rows to quarantine.
    filters: ClassVar[bool] = False

    @classmethod
    def build(cls, inputs: RunInputs) -> Stage:
        """The stage, ready for a run (override when it needs a run-wide input)."""
        return cls()

    @property
    def id(self) -> str:
        return f"{self.name}/{self.version}"

    def resources(self) -> dict[str, str]:
        """What this stage loads, ``{resource: version}``; recorded by every run."""
        return {}

    @classmethod
    def preload(cls) -> None:
        """Load now what :meth:`process` would load on first use (dictionaries, models).

        The worker pool calls this once in the process its workers are forked from, so a
        worker starts with the stage's resources instead of loading them itself, once per
        worker and phase. Loading must not depend on the run (run-wide inputs come through
        :meth:`build`); the default loads nothing."""

    def process(self, batch: pa.Table, context: BatchContext) -> StageResult:
        raise NotImplementedError


_REGISTRY: dict[str, dict[int, type[Stage]]] = {}


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available to chains by its name."""
    versions = _REGISTRY.setdefault(cls.name, {})
    if cls.version in versions and versions[cls.version] is not cls:
        raise ValueError(f"stage {cls.name}/{cls.version} is registered twice")
    versions[cls.version] = cls
    return cls


def resolve(reference: str) -> type[Stage]:
    """The stage class a chain entry names: ``name`` (newest version), ``name/N`` (that
    version) or ``package.module:Class`` (a stage outside newsclean, imported by path, which
    also works in worker processes)."""
    if ":" in reference:
        module, _, qualname = reference.partition(":")
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
        if not (isinstance(found, type) and issubclass(found, Stage)):
            raise TypeError(f"{reference} is not a Stage class")
        return found
    name, _, version = reference.partition("/")
    versions = _REGISTRY.get(name)
    if not versions:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"no stage named {name!r} (known: {known})")
    if version:
        if int(version) not in versions:
            raise KeyError(f"stage {name!r} has no version {version} ({sorted(versions)})")
        return versions[int(version)]
    return versions[max(versions)]


def registered() -> dict[str, list[int]]:
    """Every registered stage name and its versions (for docs and the CLI)."""
    return {name: sorted(versions) for name, versions in sorted(_REGISTRY.items())}


def extra_strings(extra: str | None, keys: tuple[str, ...]) -> list[str]:
    """The string values of a record's ``extra`` columns (ingest keeps the input's unmapped
    columns there, as JSON) named ``keys``, in key order, stripped; [] when it has none or
    is no JSON object. Stages read a record's own metadata (a canonical link, a crawl time)
    through this, one JSON parse per record and only when a key's name appears."""
    if not extra or not any(key in extra for key in keys):
        return []
    try:
        values = json.loads(extra)
    except ValueError:
        return []
    if not isinstance(values, dict):
        return []
    return [v.strip() for k in keys if isinstance(v := values.get(k), str) and v.strip()]


# --------------------------------------------------------------------------- loaded resources

T = TypeVar("T")


class ResourceStore(Protocol):
    """Where built resources are kept between processes (a file cache in storage)."""

    def get_or_build(self, name: str, key: str, build: Callable[[], T]) -> T: ...


class _BuildEveryTime:
    def get_or_build(self, name: str, key: str, build: Callable[[], T]) -> T:
        return build()


_store: ResourceStore = _BuildEveryTime()


def use_resource_store(store: ResourceStore | None) -> None:
    """Keep built resources in ``store`` from now on, in this process (None: build them).
    The worker pool's forkserver sets it before it preloads the stages' resources."""
    global _store
    _store = store or _BuildEveryTime()


def stored_resource(*packages: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator for a resource loader: built once per process and argument tuple, like
    :func:`functools.cache`, and kept in the process's :class:`ResourceStore`.

    Why: the typo and spelling stages' indexes are Python dicts built from word lists (about
    1.9 s per run, on the critical path of every run's start); read back they take a third
    of that. The key covers what the resource is made of: the loader's arguments, the
    versions of ``packages`` it reads data from, Python's version and the source of every
    newsclean module and rule pack (any code or rule change builds it again).
    """

    def decorate(loader: Callable[..., T]) -> Callable[..., T]:
        name = f"{loader.__module__}.{loader.__qualname__}"

        @functools.cache
        def cached(*args: Any) -> T:
            parts = [name, repr(args), sys.version, _newsclean_sources_digest()]
            parts += [f"{p} {package_version(p)}" for p in packages]
            key = hashlib.blake2b("\n".join(parts).encode(), digest_size=10).hexdigest()
            label = f"{name}({','.join(map(str, args))})" if args else name
            return _store.get_or_build(label, key, lambda: loader(*args))

        return functools.wraps(loader)(cached)

    return decorate


@functools.cache
def _newsclean_sources_digest() -> str:
    """One digest of newsclean's stage modules and rule packs, as installed."""
    from newsclean.tasks import rules, stages

    digest = hashlib.blake2b(digest_size=16)
    for package in (stages, rules):
        folder = Path(inspect.getfile(package)).parent
        for path in sorted(folder.iterdir()):
            if path.suffix in (".py", ".toml", ".json"):
                digest.update(f"{package.__name__}/{path.name}".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()
