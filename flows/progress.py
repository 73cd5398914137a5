"""In-process progress events from running tasks, for the CLI's progress bars.

Tasks report (stage, fraction); listeners (the CLI) draw them. On a remote worker
nobody listens and the run log carries the same numbers every 10%.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

class Channel:
    """Listeners called in-process with each event (thread-safe); subscribe returns the unsubscribe."""

    def __init__(self) -> None:
        self._listeners: list[Callable] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def send(self, *event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(*event)


_stages = Channel()   # (stage, fraction)
subscribe = _stages.subscribe


def report(stage: str, fraction: float) -> None:
    _stages.send(stage, fraction)


def reporter(stage: str, logger=None) -> Callable[[float], None]:
    """A progress callback for a library call: events for listeners, a log line every 10%."""
    last = [-1]

    def progress(fraction: float) -> None:
        report(stage, fraction)
        step = int(fraction * 10)
        if logger is not None and step > last[0]:
            last[0] = step
            logger.info("%s: %d%%", stage, step * 10)

    progress(0.0)  # the stage has started: bars show its elapsed time from here
    return progress
