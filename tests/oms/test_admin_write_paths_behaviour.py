"""What a person meets in the admin now that every write goes through the services: the order
page is where an order changes, holds and returns move through their services, a save never puts
back a stale copy, the admin's own saves (listings, transfers) call the service, and read-only
members run no action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels.models import Listing, Shop
from inventory.models import MovementKind, StockMovement, TransferOrder
from orders import services
from orders.models import Hold, HoldReason, Order, OrderEvent, ReturnRequest
from tests import factories
from tests.factories_inventory import TransferOrderFactory
from tests.orders.conftest import Env

pytestmark = pytest.mark.django_db


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _form_data(resp) -> dict:
    """What the browser would post back for the form as rendered (no change made)."""
    data = {}
    for bf in resp.context["adminform"].form:
        value = bf.value()
        if isinstance(value, bool):
            if value:
                data[bf.html_name] = "on"
        elif isinstance(value, (list, tuple)):
            data[bf.html_name] = [str(v) for v in value]
        elif value is not None:
            data[bf.html_name] = str(value)
    return data


# --- orders -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["pending_review", "shipped"])
def test_the_order_change_page_edits_nothing_and_links_to_the_order_page(owner_client, tenant, owner, status):
    order = factories.OrderFactory(tenant=tenant, status=status, receiver_name="张三", urgent=False)
    page = reverse("orders:detail", args=[order.pk])
    resp = owner_client.get(_url(Order, "change", order.pk))
    html = resp.content.decode()
    assert resp.status_code == 200
    assert resp.context["adminform"].form.fields == {}
    assert 'name="receiver_name"' not in html and 'name="urgent"' not in html and 'name="_save"' not in html
    assert f'href="{page}"' in html
    assert "订单页面：修改收件信息" in html and "订单页面：加急 / 取消加急" in html and "去订单页面修改" in html

    resp = owner_client.post(_url(Order, "change", order.pk), {"receiver_name": "李四", "urgent": "on"})
    assert resp.status_code == 403
    order.refresh_from_db()
    assert (order.receiver_name, order.urgent) == ("张三", False)
    assert not OrderEvent.objects.filter(order=order).exists()

    # the link's action goes through order_change_receiver: a timeline entry with who did it, or
    # (after shipping) a refusal
    owner_client.post(page, {"action": "receiver", "receiver_name": "李四"})
    order.refresh_from_db()
    event = OrderEvent.objects.filter(order=order, type="address_changed").first()
    if status == "shipped":
        assert order.receiver_name == "张三" and event is None
    else:
        assert order.receiver_name == "李四"
        assert (event.actor, event.before, event.after) == (owner, {"receiver_name": "张三"},
                                                            {"receiver_name": "李四"})


def test_read_only_members_run_no_admin_action(client, tenant):
    order = factories.OrderFactory(tenant=tenant, status="pending_review")
    hold = factories.HoldFactory(tenant=tenant, order=factories.OrderFactory(tenant=tenant, status="on_hold"))
    client.force_login(factories.member(tenant, "readonly"))
    client.post(_url(Order, "changelist"), {"action": "cancel_selected", "_selected_action": [order.pk]})
    client.post(_url(Hold, "changelist"), {"action": "resolve_selected", "_selected_action": [hold.pk]})
    order.refresh_from_db()
    hold.refresh_from_db()
    assert order.status == "pending_review" and hold.resolved_at is None
    assert not OrderEvent.objects.exists()


def test_holds_are_resolved_through_the_service_and_their_page_is_a_view_page(owner_client, tenant, owner):
    order = factories.OrderFactory(tenant=tenant, status="pending_review")
    hold = services.order_hold(order=order, detail="等买家确认颜色", actor=owner)
    resp = owner_client.get(_url(Hold, "change", hold.pk))
    assert 'name="_save"' not in resp.content.decode()
    assert f'href="{reverse("orders:detail", args=[order.pk])}"' in resp.content.decode()
    assert owner_client.post(_url(Hold, "change", hold.pk), {"detail": "改了"}).status_code == 403

    owner_client.post(_url(Hold, "changelist"), {"action": "resolve_selected", "_selected_action": [hold.pk]})
    hold.refresh_from_db()
    order.refresh_from_db()
    assert hold.resolved_by == owner and hold.detail == "等买家确认颜色"
    assert order.status != "on_hold"
    assert OrderEvent.objects.filter(order=order, type="hold_resolved", actor=owner).exists()


def test_the_restock_action_restocks_through_the_service_into_the_shipping_warehouse(owner_client, tenant, owner):
    from inventory import services as stock

    env = Env(tenant)
    env.receive(env.hz, env.a, 5)
    order = env.ingest("RT-ADM", lines=[("SKU-A", 1, "10.00")])
    services.order_allocate(order=order)
    stock.stock_consume_order(tenant_id=tenant.pk, order_id=order.pk, reference="test-ship")
    Order.objects.filter(pk=order.pk).update(status="shipped")
    order.refresh_from_db()
    rr = services.return_request_create(order=order, lines={order.lines.get().pk: 1}, actor=owner)
    services.return_receive(return_request=rr, actor=owner)

    page = owner_client.get(_url(ReturnRequest, "change", rr.pk)).content.decode()
    assert 'name="_save"' not in page and 'name="warehouse"' not in page
    assert f'href="{reverse("orders:detail", args=[order.pk])}"' in page

    owner_client.post(_url(ReturnRequest, "changelist"), {"action": "restock_selected", "_selected_action": [rr.pk]})
    rr.refresh_from_db()
    assert (rr.status, rr.warehouse_id) == ("restocked", order.warehouse_id)
    assert StockMovement.objects.filter(kind=MovementKind.RETURN, warehouse_id=order.warehouse_id, sku=env.a,
                                        on_hand_delta=1).exists()
    assert OrderEvent.objects.filter(order=order, type="return_restocked", actor=owner).exists()


# --- saves ------------------------------------------------------------------------------------------
def test_an_admin_save_never_writes_back_a_stale_copy_of_what_a_service_wrote(owner_client, tenant, monkeypatch):
    """A pull finishes while the shop form is being saved (after the admin loaded the row): the
    save keeps the pull's watermark, error and lock."""
    from django.contrib import admin

    shop = factories.ShopFactory(tenant=tenant, name="旗舰店")
    data = _form_data(owner_client.get(_url(Shop, "change", shop.pk)))
    pulled = timezone.now() - timedelta(minutes=3)
    shop_admin = admin.site._registry[Shop]
    save_form = shop_admin.save_form

    def pull_meanwhile(request, form, change):
        Shop.objects.filter(pk=shop.pk).update(high_water_mark=pulled, last_pull_at=pulled, last_pull_error="超时",
                                               pull_lock_token="tok-1", pull_lock_until=pulled + timedelta(hours=1))
        return save_form(request, form, change)

    monkeypatch.setattr(shop_admin, "save_form", pull_meanwhile)
    resp = owner_client.post(_url(Shop, "change", shop.pk), {**data, "name": "旗舰店2"})
    assert resp.status_code == 302
    shop.refresh_from_db()
    assert shop.name == "旗舰店2"
    assert (shop.high_water_mark, shop.last_pull_at, shop.last_pull_error) == (pulled, pulled, "超时")
    assert (shop.pull_lock_token, shop.credentials) == ("tok-1", {"app_key": "k", "app_secret": "s"})


def test_changing_a_shops_safety_stock_re_pushes_its_listings(owner_client, tenant, monkeypatch,
                                                              django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from channels import tasks

    shop = factories.ShopFactory(tenant=tenant, safety_stock=0)
    listing = factories.ListingFactory(tenant=tenant, shop=shop)
    other = factories.ListingFactory(tenant=tenant)  # another shop's listing of another SKU
    cache.clear()
    sent = []
    monkeypatch.setattr(tasks.push_listing, "apply_async", lambda args, countdown: sent.append(args))
    data = _form_data(owner_client.get(_url(Shop, "change", shop.pk)))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_url(Shop, "change", shop.pk), {**data, "name": shop.name})  # nothing that matters
    assert sent == []
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_url(Shop, "change", shop.pk), {**data, "safety_stock": "5"})
    assert [args[:2] for args in sent] == [[tenant.pk, listing.pk]]
    assert other.pk not in {args[1] for args in sent}


def test_remapping_a_listing_in_the_admin_pushes_the_new_skus_figure(owner_client, tenant, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from channels import tasks

    listing = factories.ListingFactory(tenant=tenant)
    new_sku = factories.SkuFactory(tenant=tenant)
    cache.clear()
    sent = []
    monkeypatch.setattr(tasks.push_listing, "apply_async", lambda args, countdown: sent.append(args))
    data = _form_data(owner_client.get(_url(Listing, "change", listing.pk)))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(_url(Listing, "change", listing.pk), {**data, "sku": new_sku.pk})
    listing.refresh_from_db()
    assert listing.sku == new_sku
    assert [args[:2] for args in sent] == [[tenant.pk, listing.pk]]


def test_changing_a_combos_components_in_the_admin_re_pushes_it(owner_client, tenant,
                                                                django_capture_on_commit_callbacks):
    from oms import signals

    combo = factories.SkuFactory(tenant=tenant, is_combo=True)
    part = factories.SkuFactory(tenant=tenant)
    seen = []

    def record(sender, *, tenant_id, sku_ids, **kwargs):
        seen.append((tenant_id, set(sku_ids)))

    signals.stock_changed.connect(record, dispatch_uid="test-admin-sku")
    try:
        data = _form_data(owner_client.get(_url(combo.__class__, "change", combo.pk)))
        with django_capture_on_commit_callbacks(execute=True):
            resp = owner_client.post(_url(combo.__class__, "change", combo.pk), {
                **data, "components-TOTAL_FORMS": 1, "components-INITIAL_FORMS": 0, "components-MIN_NUM_FORMS": 0,
                "components-MAX_NUM_FORMS": 1000, "components-0-component": part.pk, "components-0-quantity": 2})
    finally:
        signals.stock_changed.disconnect(dispatch_uid="test-admin-sku")
    assert resp.status_code == 302
    assert combo.components.get().component == part
    assert (tenant.pk, {combo.pk}) in seen


def test_a_listing_saved_in_the_admin_maps_the_orders_held_for_it(owner_client, tenant):
    env = Env(tenant)
    env.receive(env.hz, env.a, 5)
    order = env.ingest("UNMAPPED-1", lines=[("OUTER-NEW", 1, "10.00")])
    assert Hold.objects.filter(order=order, reason=HoldReason.UNMAPPED_SKU, resolved_at=None).exists()
    resp = owner_client.post(_url(Listing, "add"), {"shop": env.shop.pk, "sku": env.a.pk, "platform_item_id": "9001",
                                                    "platform_sku_id": "", "outer_id": "OUTER-NEW",
                                                    "push_enabled": "on"}, follow=True)
    assert "已重新处理 1 个待匹配订单" in resp.content.decode()
    assert order.lines.get().sku == env.a
    assert not Hold.objects.filter(order=order, reason=HoldReason.UNMAPPED_SKU, resolved_at=None).exists()


def test_a_transfer_entered_in_the_admin_is_created_by_transfer_create(owner_client, tenant, owner):
    src, dst = factories.WarehouseFactory(tenant=tenant), factories.WarehouseFactory(tenant=tenant)
    sku = factories.SkuFactory(tenant=tenant)
    combo = factories.SkuFactory(tenant=tenant, is_combo=True)
    add = owner_client.get(_url(TransferOrder, "add"))
    (inline,) = add.context["inline_admin_formsets"]
    offered = set(inline.formset.empty_form.fields["sku"].queryset)
    assert sku in offered and combo not in offered  # combos move as their components

    resp = owner_client.post(_url(TransferOrder, "add"), {
        "source": src.pk, "destination": dst.pk, "note": "补货",
        "lines-TOTAL_FORMS": 1, "lines-INITIAL_FORMS": 0, "lines-MIN_NUM_FORMS": 0, "lines-MAX_NUM_FORMS": 1000,
        "lines-0-sku": sku.pk, "lines-0-quantity": 3})
    assert resp.status_code == 302
    transfer = TransferOrder.objects.get(tenant=tenant)
    assert (transfer.created_by, transfer.note, transfer.status) == (owner, "补货", "draft")
    assert [(ln.sku, ln.quantity) for ln in transfer.lines.all()] == [(sku, 3)]
    assert resp.url == _url(TransferOrder, "changelist")

    # afterwards only the note is edited here; status and lines move on the transfer page
    change = owner_client.get(_url(TransferOrder, "change", transfer.pk))
    assert list(change.context["adminform"].form.fields) == ["note"]
    assert f'href="{reverse("inventory:transfer_detail", args=[transfer.pk])}"' in change.content.decode()


def test_a_transfers_note_is_saved_without_touching_its_status(owner_client, tenant, monkeypatch):
    """Dismissed on the transfer page while its note was being saved here: it stays dismissed."""
    from django.contrib import admin

    transfer = TransferOrderFactory(tenant=tenant)
    data = _form_data(owner_client.get(_url(TransferOrder, "change", transfer.pk)))
    transfer_admin = admin.site._registry[TransferOrder]
    save_form = transfer_admin.save_form

    def dismissed_meanwhile(request, form, change):
        TransferOrder.objects.filter(pk=transfer.pk).update(status="dismissed", closed_at=timezone.now())
        return save_form(request, form, change)

    monkeypatch.setattr(transfer_admin, "save_form", dismissed_meanwhile)
    owner_client.post(_url(TransferOrder, "change", transfer.pk), {
        **data, "note": "新备注", "lines-TOTAL_FORMS": 0, "lines-INITIAL_FORMS": 0, "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 1000})
    transfer.refresh_from_db()
    assert (transfer.note, transfer.status) == ("新备注", "dismissed")


# --- credentials ------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", ["ShopFactory", "CarrierAccountFactory", "SmsAccountFactory"])
def test_stored_credentials_are_never_a_form_field_nor_sent_back(owner_client, tenant, factory):
    from tests import factories_logistics, factories_notifications

    make = getattr(factories, factory, None) or getattr(factories_logistics, factory, None) or getattr(
        factories_notifications, factory)
    secret = "s3cr3t-VALUE-7781"
    obj = make(tenant=tenant, credentials={"app_secret": secret, "access_key_secret": secret, "key": secret})
    resp = owner_client.get(_url(type(obj), "change", obj.pk))
    assert resp.status_code == 200
    assert "credentials" not in resp.context["adminform"].form.fields
    assert secret not in resp.content.decode()
