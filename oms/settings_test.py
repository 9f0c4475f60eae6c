"""The test run: the normal settings, with var/ (filesystem broker, file cache, secret key)
in a private temporary folder so tests never touch the demo's queue or data. Every service
URL still comes from the environment, exactly as in production. Under pytest-xdist each
worker gets its own folder, cache key prefix and task queue (their database ids overlap)."""

import os
import tempfile

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and os.environ.get("OMS_TEST_VAR_OWNER") != _worker:
    os.environ["OMS_VAR_DIR"] = tempfile.mkdtemp(prefix=f"oms-test-{_worker}-")
    os.environ["OMS_TEST_VAR_OWNER"] = _worker
os.environ.setdefault("OMS_VAR_DIR", tempfile.mkdtemp(prefix="oms-test-"))

from .settings import *  # noqa: E402,F403
from .settings import CACHES, CELERY_BROKER_URL, REDIS_URL  # noqa: E402

if REDIS_URL:
    # keep test tasks and cache keys out of a demo/production Redis, and apart per xdist worker
    CELERY_TASK_DEFAULT_QUEUE = f"oms-test{'-' + _worker if _worker else ''}"
    CACHES["default"]["KEY_PREFIX"] = CELERY_TASK_DEFAULT_QUEUE
assert CELERY_BROKER_URL
OMS_TAB_COUNT_SECONDS = 0  # tests read the counts right after acting
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
