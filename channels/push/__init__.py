"""Real-time push intake (Channels II): consumers that turn platform messages ("order X changed")
into the same archive -> normalise -> ingest path the pull uses (channels.services.raw_receive
with source="push"). Messages are acknowledged only after the order committed; the scheduled
pull stays as the safety net, and both land in the same idempotent ingest, so nothing is lost
or duplicated.

    intake.py       push_order_receive / push_payload_receive: the one intake path
    tmc.py          Taobao TMC over HTTP (consume -> fetch -> ingest -> confirm)
    pdd.py          Pinduoduo message WebSocket (frame -> fetch -> ingest -> ack; heartbeats)
    supervisor.py   restarts a consumer that died, with backoff
The HTTP pushes (Shopify webhooks, Douyin message push) are views: channels/webhooks.py.
"""
