"""Small helpers shared by tests of several apps."""

from django.conf import settings
from django.core.cache import cache


def clear_cache() -> None:
    """Forget this test process's cache keys only. On Redis, `cache.clear()` would FLUSHDB the
    whole database: under pytest-xdist that wipes the other workers' keys (coalescing flags,
    rate-limit counters) in the middle of their tests. Each worker has its own KEY_PREFIX
    (oms/settings_test.py), so delete exactly the keys under it."""
    conf = settings.CACHES["default"]
    if conf["BACKEND"].endswith("RedisCache"):
        client = cache._cache.get_client(None, write=True)
        keys = list(client.scan_iter(match=f"{conf.get('KEY_PREFIX', '')}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


def database_url() -> str:
    """The test database as a URL, for the processes a test starts (Celery workers, gunicorn):
    the same role the test process connects as (the application role under CI)."""
    from urllib.parse import quote

    from django.db import connection

    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return (f"postgres://{quote(db['USER'] or '')}{password}"
            f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def venv_bin(name: str) -> str:
    """A console script of the running interpreter's environment (celery, gunicorn, locust)."""
    import shutil
    import sys
    from pathlib import Path

    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def stop_process(proc, timeout: float = 20) -> None:
    """SIGTERM, wait, then SIGKILL: a child process never outlives its test."""
    import subprocess

    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
