"""Platform adapters, registered by platform code. See base.Adapter for the interface."""

from .base import REGISTRY, Adapter, AdapterError, AuthError, ThrottledError, get_adapter, register

__all__ = ["REGISTRY", "Adapter", "AdapterError", "AuthError", "ThrottledError", "get_adapter", "register"]
