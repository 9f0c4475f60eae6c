"""Fake marketplaces (Taobao TOP, JD JOS, Pinduoduo) speaking the real protocols over real HTTP.

    from channels.sandbox import SandboxServer
    with SandboxServer() as server:
        server.state.add_account("taobao", {"app_key": "k", "app_secret": "s", "session": "t"})
        server.state.generate_orders("taobao", "k", 50, start=..., end=...)
        # Shop(platform="taobao", api_base_url=server.url + "/taobao", credentials={...})
"""

from .server import SandboxServer
from .state import FAULT_KINDS, PLATFORMS, SandboxState

__all__ = ["FAULT_KINDS", "PLATFORMS", "SandboxServer", "SandboxState"]
