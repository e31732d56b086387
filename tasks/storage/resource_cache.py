"""A file cache of the stages' built resources (the typo and spelling indexes, the
paragraph-language identifier).

Built once and read back by every later run's worker pool (see
:func:`newsclean.tasks.stages.base.stored_resource`): one pickle per resource, named by the
resource and a key of what it is made of, written atomically. A file that cannot be read
(missing, cut short, from another Python) is built again and replaced; a resource's files of
older keys are removed when a new one is written, so the cache holds one file per resource.
The files are this user's own (like the installed packages they are built from); the
folder is ``NEWSCLEAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/newsclean``, else
``~/.cache/newsclean``.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

from newsclean.tasks.storage.io import write_bytes_atomic

T = TypeVar("T")
LOG = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    configured = os.environ.get("NEWSCLEAN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsclean"


class FileResourceStore:
    """:class:`~newsclean.tasks.stages.base.ResourceStore` over one folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str, key: str) -> Path:
        return self.directory / f"{name}-{key}.pickle"

    def get_or_build(self, name: str, key: str, build: Callable[[], T]) -> T:
        path = self.path(name, key)
        try:
            with open(path, "rb") as stored:
                return pickle.load(stored)
        except OSError:  # not cached (yet), or no such folder
            pass
        except Exception as error:  # unreadable: cut short, another Python, another class
            LOG.warning("rebuilding %s: cached copy unreadable (%s)", name, error)
        value = build()
        self._write(path, name, value)
        return value

    def _write(self, path: Path, name: str, value: object) -> None:
        """Best effort: a cache that cannot be written only costs the next run the build."""
        try:
            write_bytes_atomic(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as error:
            LOG.warning("cannot cache %s in %s: %s", name, self.directory, error)
            return
        for older in self.directory.glob(f"{name}-*.pickle"):
            if older != path:
                with suppress(OSError):
                    older.unlink(missing_ok=True)
