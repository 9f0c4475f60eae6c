"""Benchmark: printed documents. Our render path (selectors + Django template + WeasyPrint with a
shared FontConfiguration) against bare `weasyprint.HTML(string=same_html).write_pdf()` on the
same HTML, in the same run. Prints

    labels: N pages/s; bare WeasyPrint: M pages/s; ratio: R
    pick_list: N lines/s; bare WeasyPrint: M lines/s; ratio: R

Not part of the test run."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

try:
    from . import common
except ImportError:  # run as a script
    import common  # type: ignore[no-redef]

LABELS = 40
PICK_LINES = 500


def _world(tag: str):
    from django.utils import timezone

    from channels.models import Shop
    from inventory.models import Sku, StockLevel, Warehouse
    from logistics.models import Carrier, Shipment
    from oms.models import Tenant
    from orders.models import Order, OrderLine

    tenant = Tenant.objects.create(name=f"bench docs {tag}", slug=f"bench-docs-{tag}")
    shop = Shop.objects.create(tenant=tenant, platform="taobao", name="bench")
    wh = Warehouse.objects.create(tenant=tenant, code="W1", name="杭州一号仓", province="浙江省", city="杭州市",
                                  address="余杭区仓前街道 8 号", contact_name="仓管小王", contact_phone="13700001111")
    skus = Sku.objects.bulk_create([Sku(tenant=tenant, code=f"SKU-{i:04d}", name=f"纯棉短袖T恤 颜色{i % 17} 尺码{i % 5}",
                                        weight_grams=300) for i in range(PICK_LINES)])
    StockLevel.objects.bulk_create([StockLevel(tenant=tenant, warehouse=wh, sku=s, bin_location=f"A-{i % 40:02d}-{i:03d}")
                                    for i, s in enumerate(skus)])
    now = timezone.now()
    orders = Order.objects.bulk_create([
        Order(tenant=tenant, shop=shop, platform="taobao", platform_order_id=f"B{tag}{i}", status="picking",
              receiver_name="张三", receiver_phone="13800138000", receiver_province="广东省", receiver_city="深圳市",
              receiver_district="南山区", receiver_address=f"科技园南区深南大道 {i} 号", placed_at=now,
              platform_modified_at=now, warehouse=wh, paid_amount=Decimal("99.00"))
        for i in range(PICK_LINES)])
    OrderLine.objects.bulk_create([
        OrderLine(tenant=tenant, order=o, platform_line_id="1", sku=skus[i], outer_sku_id=skus[i].code,
                  title=skus[i].name, quantity=1 + i % 3, unit_price=Decimal("33.00"), amount=Decimal("99.00"))
        for i, o in enumerate(orders)])
    sf = Carrier.objects.get(code="SF")
    shipments = Shipment.objects.bulk_create([
        Shipment(tenant=tenant, order=o, warehouse=wh, carrier=sf, service="standard", status="labelled",
                 tracking_number=f"SF{1400000000000 + i}", weight_grams=950) for i, o in enumerate(orders[:LABELS])])
    return tenant, [s.pk for s in shipments], [o.pk for o in orders]


def _best(fn, repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run() -> list[str]:
    common.setup()
    import weasyprint

    from logistics import documents

    tenant, shipment_ids, order_ids = _world(uuid.uuid4().hex[:8])
    documents.labels_pdf(tenant_id=tenant.pk, shipment_ids=shipment_ids[:2])  # warm fonts and templates

    ours = _best(lambda: documents.labels_pdf(tenant_id=tenant.pk, shipment_ids=shipment_ids))
    html = documents.documents_html(tenant_id=tenant.pk, shipments=documents._load_shipments(tenant.pk, shipment_ids))
    bare = _best(lambda: weasyprint.HTML(string=html).write_pdf())
    out = [common_line("labels", LABELS / ours, "pages/s", LABELS / bare)]

    ours = _best(lambda: documents.pick_list_pdf(tenant_id=tenant.pk, order_ids=order_ids))
    html = documents.documents_html(tenant_id=tenant.pk, pick_orders=documents._load_orders(tenant.pk, order_ids))
    bare = _best(lambda: weasyprint.HTML(string=html).write_pdf())
    out.append(common_line("pick_list", PICK_LINES / ours, "lines/s", PICK_LINES / bare))
    return out


def common_line(name: str, ours: float, unit: str, base: float) -> str:
    return f"{name}: {ours:.1f} {unit}; bare WeasyPrint: {base:.1f} {unit}; ratio: {ours / base:.2f}"


if __name__ == "__main__":
    for text in run():
        print(text)
