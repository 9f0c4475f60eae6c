"""Settings of the Celery workers the benchmarks start: the normal settings, with the bench's
own task queue and cache key prefix (BENCH_QUEUE), so a bench never shares tasks or cache keys
with a demo or production worker on the same Redis."""

import os

from oms.settings import *  # noqa: F403
from oms.settings import CACHES, REDIS_URL

BENCH_QUEUE = os.environ.get("BENCH_QUEUE", "oms-bench")
CELERY_TASK_DEFAULT_QUEUE = BENCH_QUEUE
if REDIS_URL:
    CACHES["default"]["KEY_PREFIX"] = BENCH_QUEUE
