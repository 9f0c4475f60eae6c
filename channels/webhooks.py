"""Push endpoints the platforms call (Channels II): Shopify webhooks and Douyin message push.

Each shop has its own URL (`/channels/hooks/shopify/<shop id>/`, `/channels/hooks/douyin/<shop id>/`).
The signature is checked over the raw body in constant time BEFORE anything is stored; a bad or
missing signature, or an unknown / disabled shop, answers 401 and stores nothing (the same answer
for both, so ids cannot be probed). A good message is processed synchronously through the one
intake path (archive -> normalise -> ingest) and acknowledged only after it committed: if the
order could not be fetched, the answer tells the platform to deliver again.
"""

from __future__ import annotations

import json
import logging

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from oms import rls

from .adapters import get_adapter
from .adapters.base import AdapterError
from .adapters.douyin import verify_push
from .adapters.shopify import verify_webhook
from .models import Shop
from .push.intake import push_order_receive, push_payload_receive

logger = logging.getLogger(__name__)

SHOPIFY_ORDER_TOPICS = {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled"}
# Douyin order tags: 100 created, 101 paid, 102 shipped, 103 completed, 105 address changed, 106 cancelled
DOUYIN_ORDER_TAGS = {"100", "101", "102", "103", "105", "106"}


def _shop(platform: str, shop_id: int) -> Shop | None:
    # the caller is a platform, not a member: the URL's shop names the tenant, found across tenants
    with rls.system_scope():
        return Shop.objects.filter(pk=shop_id, platform=platform, enabled=True).select_related("tenant").first()


def _unauthorized() -> HttpResponse:
    return HttpResponse("unauthorized", status=401, content_type="text/plain")


@csrf_exempt
@require_POST
def shopify_webhook(request, shop_id: int):
    body = request.body
    shop = _shop("shopify", shop_id)
    creds = (shop.credentials or {}) if shop else {}
    secret = creds.get("webhook_secret") or creds.get("client_secret") or ""
    if shop is None or not verify_webhook(secret, body, request.headers.get("X-Shopify-Hmac-Sha256", "")):
        logger.warning("shopify webhook for shop=%s rejected: bad signature or unknown shop", shop_id)
        return _unauthorized()
    topic = request.headers.get("X-Shopify-Topic", "")
    if topic not in SHOPIFY_ORDER_TOPICS:
        return HttpResponse(status=200)  # subscribed elsewhere; nothing for the OMS
    try:
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return HttpResponse("bad json", status=400)
    adapter = get_adapter(shop)
    adapter.max_attempts = 2  # Shopify redelivers; do not hold its connection for long
    try:
        # fulfilment holds are not in the webhook body: read them, so a held order stays held
        payload = adapter.with_fulfillment_holds(payload)
    except AdapterError as exc:
        logger.warning("tenant=%s shop=%s shopify webhook: fulfilment orders not read: %s", shop.tenant_id, shop.pk,
                       exc)
        return HttpResponse("retry later", status=503)
    with rls.tenant_scope(shop.tenant_id):
        outcome = push_payload_receive(shop=shop, payload=payload, adapter=adapter)
    return JsonResponse({"outcome": outcome})


@csrf_exempt
@require_POST
def douyin_push(request, shop_id: int):
    body = request.body
    shop = _shop("douyin", shop_id)
    creds = (shop.credentials or {}) if shop else {}
    app_key = str(creds.get("app_key") or "")
    ok = shop is not None and request.headers.get("app-id", "") == app_key and verify_push(
        app_key=app_key, app_secret=str(creds.get("app_secret") or ""), body=body,
        event_sign=request.headers.get("event-sign", ""))
    if not ok:
        logger.warning("douyin push for shop=%s rejected: bad signature or unknown shop", shop_id)
        return _unauthorized()
    try:
        messages = json.loads(body.decode("utf-8"))
        if not isinstance(messages, list):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"code": 40001, "msg": "body must be a JSON array"}, status=400)
    adapter = None
    for m in messages:
        tag = str(m.get("tag", "")) if isinstance(m, dict) else ""
        if tag == "0" or tag not in DOUYIN_ORDER_TAGS:
            continue  # "0" is the verification ping; other tags are not order events
        try:
            data = json.loads(m.get("data") or "{}", parse_int=str)
        except (ValueError, TypeError):
            continue
        if shop.platform_shop_id and str(data.get("shop_id", "")) not in ("", shop.platform_shop_id):
            logger.warning("douyin push for shop=%s names shop_id %s: ignored", shop.pk, data.get("shop_id"))
            continue
        order_id = str(data.get("p_id") or "")
        if not order_id:
            continue
        adapter = adapter or get_adapter(shop)
        adapter.max_attempts = 2  # the platform redelivers; do not hold its connection for long
        try:
            with rls.tenant_scope(shop.tenant_id):
                push_order_receive(shop=shop, platform_order_id=order_id, adapter=adapter)
        except AdapterError as exc:
            logger.warning("tenant=%s shop=%s douyin push of order %s not processed: %s", shop.tenant_id, shop.pk,
                           order_id, exc)
            return JsonResponse({"code": 50000, "msg": "retry later"}, status=500)
    return JsonResponse({"code": 0, "msg": "success"})
