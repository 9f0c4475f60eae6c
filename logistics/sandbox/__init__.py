"""Fake carrier services over real HTTP on loopback: SF open platform, Cainiao (TOP) waybills and
Kuaidi100 tracking. They check signatures with their own code (not the adapters'), keep
waybills idempotent per orderId / object_id, produce tracking timelines that advance with time,
and inject faults on demand."""

from .server import CarrierSandbox, CarrierSandboxState

__all__ = ["CarrierSandbox", "CarrierSandboxState"]
