"""The test run: the normal settings, with var/ (filesystem broker, file cache, secret key)
in a private temporary folder so tests never touch the demo's queue or data. Every service
URL still comes from the environment, exactly as in production."""

import os
import tempfile

os.environ.setdefault("OMS_VAR_DIR", tempfile.mkdtemp(prefix="oms-test-"))

from .settings import *  # noqa: E402,F403
from .settings import CELERY_BROKER_URL, REDIS_URL  # noqa: E402

if REDIS_URL:
    # keep test tasks out of a demo/production queue that may share this Redis server
    CELERY_TASK_DEFAULT_QUEUE = "oms-test"
assert CELERY_BROKER_URL
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
