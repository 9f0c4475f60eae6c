"""The low-stock dashboard and transfer pages, as a user sees them; other tenants' ids -> 404."""

import pytest

from inventory import services
from inventory.models import LowStockAlert, TransferStatus
from tests import factories, factories_inventory
from tests.inventory.helpers import level

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant):
    src = factories.WarehouseFactory(tenant=tenant, name="广州仓")
    dst = factories.WarehouseFactory(tenant=tenant, name="杭州仓")
    sku = factories.SkuFactory(tenant=tenant, code="BAG-01", name="帆布包")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=src.pk, sku_id=sku.pk, quantity=20)
    return src, dst, sku


def test_low_stock_page_lists_open_alerts_with_days_of_cover(tenant, owner_client, world):
    src, dst, sku = world
    services.reorder_point_set(tenant_id=tenant.pk, sku_id=sku.pk, warehouse_id=src.pk, reorder_point=25)
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=5, lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 6}])
    services.stock_consume_order(tenant_id=tenant.pk, order_id=5)  # 6 shipped in 30 days; 14 left -> 70 days
    html = owner_client.get("/inventory/low-stock/").content.decode()
    assert "BAG-01" in html and "广州仓" in html
    assert "70.0 天" in html
    assert "0.20" in html  # daily sales
    LowStockAlert.objects.update(cleared_at="2026-01-01T00:00:00+08:00")
    assert "没有低库存预警" in owner_client.get("/inventory/low-stock/").content.decode()


def test_transfer_pages_walk_the_life_cycle(tenant, owner_client, world):
    src, dst, sku = world
    t = services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk, lines={sku.pk: 8},
                                 suggested=True, reason="杭州仓 缺 BAG-01 8 件")
    html = owner_client.get("/inventory/transfers/").content.decode()
    assert t.number in html and "待处理建议" in html
    detail = owner_client.get(f"/inventory/transfers/{t.pk}/").content.decode()
    assert "杭州仓 缺 BAG-01 8 件" in detail and "采纳建议" in detail
    line = t.lines.get()

    owner_client.post(f"/inventory/transfers/{t.pk}/update/", {f"qty_{line.pk}": "6"})
    line.refresh_from_db()
    assert line.quantity == 6
    owner_client.post(f"/inventory/transfers/{t.pk}/accept/")
    t.refresh_from_db()
    assert t.accepted_at is not None
    owner_client.post(f"/inventory/transfers/{t.pk}/ship/")
    assert level(src, sku).on_hand == 14
    resp = owner_client.post(f"/inventory/transfers/{t.pk}/receive/", {f"recv_{line.pk}": "9"}, follow=True)
    assert "超过未到数量" in resp.content.decode()  # refused, shown to the user
    owner_client.post(f"/inventory/transfers/{t.pk}/receive/", {f"recv_{line.pk}": "4"})
    t.refresh_from_db()
    assert t.status == TransferStatus.PARTIALLY_RECEIVED and level(dst, sku).on_hand == 4
    page = owner_client.get(f"/inventory/transfers/{t.pk}/").content.decode()
    assert "部分到货" in page and "关闭并将未到部分报损" in page
    owner_client.post(f"/inventory/transfers/{t.pk}/close/", {"reason": "丢件"})
    t.refresh_from_db()
    assert t.status == TransferStatus.CLOSED


def test_suggest_button_runs_the_job(tenant, owner_client, world):
    resp = owner_client.post("/inventory/transfers/suggest/", follow=True)
    assert "已生成调拨建议 0 条" in resp.content.decode()


def test_read_only_users_see_pages_but_cannot_act(tenant, client, world):
    src, dst, sku = world
    t = services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk, lines={sku.pk: 2})
    client.force_login(factories.member(tenant, "readonly"))
    page = client.get(f"/inventory/transfers/{t.pk}/")
    assert page.status_code == 200 and "发出（从调出仓扣减库存）" not in page.content.decode()
    assert client.post(f"/inventory/transfers/{t.pk}/ship/").status_code == 403
    assert level(src, sku).on_hand == 20


def test_another_tenants_transfer_ids_are_404_everywhere(tenant, other_tenant, owner_client, world):
    theirs = factories_inventory.TransferLineFactory(tenant=other_tenant).transfer
    assert owner_client.get(f"/inventory/transfers/{theirs.pk}/").status_code == 404
    for op in ("accept", "update", "ship", "receive", "close", "dismiss"):
        assert owner_client.post(f"/inventory/transfers/{theirs.pk}/{op}/").status_code == 404, op
    theirs.refresh_from_db()
    assert theirs.status == TransferStatus.DRAFT
    assert theirs.number not in owner_client.get("/inventory/transfers/").content.decode()
    their_alert = factories_inventory.LowStockAlertFactory(tenant=other_tenant)
    assert their_alert.sku.code not in owner_client.get("/inventory/low-stock/").content.decode()


def test_a_line_of_another_transfer_cannot_be_edited_through_mine(tenant, owner_client, world):
    src, dst, sku = world
    mine = services.transfer_create(tenant_id=tenant.pk, source_id=src.pk, destination_id=dst.pk, lines={sku.pk: 2})
    other = factories_inventory.TransferLineFactory(tenant=tenant)
    assert owner_client.post(f"/inventory/transfers/{mine.pk}/update/", {f"qty_{other.pk}": "1"}).status_code == 404
    other.refresh_from_db()
    assert other.quantity == 5
