"""In-process progress events, so the CLI can draw a live bar while the Prefect flow runs.

Tasks publish small events; whoever subscribed (the CLI's rich progress bar) renders them.
Without subscribers publishing costs nothing, so flows behave the same under a scheduler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> None:
    with _lock:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def publish(event: str, **data: Any) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(event, data)
