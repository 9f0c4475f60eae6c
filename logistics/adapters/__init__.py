"""Carrier-side adapters: electronic waybills (SF open platform, Cainiao via TOP) and tracking
(Kuaidi100, SF routes). Each speaks the provider's documented protocol with `requests`."""
