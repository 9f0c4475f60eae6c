"""Importing this module registers every platform adapter."""

import importlib

for _name in ("taobao", "jd", "pdd"):
    try:
        importlib.import_module(f"channels.adapters.{_name}")
    except ModuleNotFoundError as exc:  # a platform module not written yet
        if exc.name != f"channels.adapters.{_name}":
            raise
