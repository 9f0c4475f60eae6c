"""Keep a push consumer running: when it dies (an exception, or a return while not stopping) it
is restarted after a backoff that doubles up to a cap and resets after a healthy run."""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger(__name__)


def supervise(name: str, run, stop: threading.Event, *, backoff_base: float = 1.0, backoff_cap: float = 60.0,
              healthy_after: float = 60.0, clock=time.monotonic) -> int:
    """Call `run(stop)` until `stop` is set; returns how many times it was restarted."""
    restarts = 0
    delay = backoff_base
    while not stop.is_set():
        started = clock()
        try:
            run(stop)
            if stop.is_set():
                break
            logger.warning("push consumer %s returned; restarting", name)
        except Exception as exc:  # a dead consumer is restarted, never left dead
            logger.warning("push consumer %s died: %s: %s; restarting in %.1fs", name, type(exc).__name__, exc, delay)
        restarts += 1
        if clock() - started >= healthy_after:
            delay = backoff_base
        if stop.wait(delay):
            break
        delay = min(backoff_cap, delay * 2)
    return restarts
