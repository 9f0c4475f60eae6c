"""Fake message providers speaking the real protocols over HTTP on loopback."""

from .aliyun_sms import SmsSandboxServer, SmsSandboxState

__all__ = ["SmsSandboxServer", "SmsSandboxState"]
