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
