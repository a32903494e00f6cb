"""The machine's cores, and which work has them first.

On a small machine the LLM, the recognizer and the TTS all want every core at the moment a reply
starts. The first spoken piece is what the user waits for, so its synthesis is ``urgent``: while any
urgent work runs, generation that can wait (the LLM decoding the rest of a reply) pauses between
tokens, and the urgent work has the cores to itself.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

URGENT_WAIT_S = 1.0
"""The longest background work pauses for urgent work (a stuck urgent job must not stall it for good)."""


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Priority:
    """Urgent work in any thread makes deferrable work wait until it is done."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._urgent = 0
        self._clear = threading.Event()
        self._clear.set()

    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        """Mark the work inside as urgent (nesting and several threads at once are fine)."""
        if not self.enabled:
            yield
            return
        with self._lock:
            self._urgent += 1
            self._clear.clear()
        try:
            yield
        finally:
            with self._lock:
                self._urgent -= 1
                if self._urgent == 0:
                    self._clear.set()

    def wait_turn(self) -> None:
        """Called by deferrable work between its steps: returns once no urgent work runs."""
        self._clear.wait(URGENT_WAIT_S)


PRIORITY = Priority()
"""The process's priority: the stages of every session share the cores."""
