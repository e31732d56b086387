"""The file cache of built stage resources: a resource read back is the one that was built,
and a cache that cannot be read or written only costs a build."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from newsclean.tasks.stages import base
from newsclean.tasks.storage.resource_cache import FileResourceStore

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


class _Counting:
    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


@pytest.mark.unit
def test_a_stored_resource_is_built_once_and_read_back(tmp_path: Path) -> None:
    build = _Counting({"colour": "color", "centre": "center"})
    first = FileResourceStore(tmp_path).get_or_build("spelling.table", "k1", build)
    again = FileResourceStore(tmp_path).get_or_build("spelling.table", "k1", build)
    assert first == again == build.value and build.calls == 1
    assert [p.name for p in tmp_path.iterdir()] == ["spelling.table-k1.pickle"]


@pytest.mark.unit
def test_a_new_key_builds_again_and_replaces_the_old_file(tmp_path: Path) -> None:
    store = FileResourceStore(tmp_path)
    store.get_or_build("index", "old", lambda: [1])
    store.get_or_build("other", "x", lambda: [3])
    assert store.get_or_build("index", "new", lambda: [2]) == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index-new.pickle", "other-x.pickle"]


@pytest.mark.unit
def test_an_unreadable_copy_is_rebuilt(tmp_path: Path) -> None:
    store = FileResourceStore(tmp_path)
    store.path("index", "k").write_bytes(pickle.dumps([1, 2, 3])[:7])  # cut short
    build = _Counting([1, 2, 3])
    assert store.get_or_build("index", "k", build) == [1, 2, 3] and build.calls == 1
    assert FileResourceStore(tmp_path).get_or_build("index", "k", build) == [1, 2, 3]
    assert build.calls == 1


@pytest.mark.unit
def test_a_cache_that_cannot_be_written_still_gives_the_resource(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert FileResourceStore(blocked / "cache").get_or_build("index", "k", lambda: 7) == 7


@pytest.mark.unit
def test_a_resource_is_stored_once_per_argument_tuple_under_its_own_key() -> None:
    seen: list[tuple[str, str]] = []

    class Recording:
        def get_or_build(self, name: str, key: str, build: Callable[[], T]) -> T:
            seen.append((name, key))
            return build()

    @base.stored_resource("pyarrow")
    def squares(n: int) -> list[int]:
        return [i * i for i in range(n)]

    base.use_resource_store(Recording())
    try:
        assert squares(3) == [0, 1, 4] and squares(3) == [0, 1, 4] and squares(4)[-1] == 9
    finally:
        base.use_resource_store(None)
    assert len(seen) == 2  # once per argument tuple and process, like functools.cache
    assert seen[0][0].endswith("squares(3)") and seen[1][0].endswith("squares(4)")
    assert seen[0][1] != seen[1][1]


_DIGESTS = """
import hashlib, json, pickle, sys
import newsclean.tasks.pipeline.preload  # the forkserver's preload, with the file cache
from newsclean.tasks.stages import language, spelling, typos
langid = language.paragraph_identifier()
resources = {
    "symspell": typos._symspell(1)._words, "known": sorted(typos.extra_known_words()),
    "bigrams": typos.bigram_index(), "context": typos._context_symspell()._deletes,
    "curated": typos.curated_corrections(), "variants": spelling.variant_table(),
    "langid": [langid.nb_ptc, langid.nb_pc, langid.nb_classes, langid.tk_nextmove,
               langid.tk_output, langid.tk_row],
}
print(json.dumps({k: hashlib.sha256(pickle.dumps(v)).hexdigest() for k, v in resources.items()}))
"""


@pytest.mark.process
def test_the_preloaded_resources_read_back_equal_the_built_ones(tmp_path: Path) -> None:
    """A first run builds the typo, spelling and paragraph-language resources and caches
    them; the next run's forkserver reads them back, without building or rewriting them,
    equal to the built ones."""
    env = {**os.environ, "NEWSCLEAN_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}

    def digests() -> dict[str, str]:
        done = subprocess.run(
            [sys.executable, "-c", _DIGESTS], capture_output=True, text=True, env=env, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    built = digests()
    files = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert len(files) == 7 and all(name.endswith(".pickle") for name in files)
    assert digests() == built
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
