"""Every ledger row names who or what caused it: the user of a page, the admin or an import, the
platform of a pull (through the stock-moving signals' actor kwargs), the system otherwise; the
bulk reservation carries it at no extra statement."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory import services
from inventory.models import MovementKind, StockMovement
from oms import signals
from orders.resources import import_run
from tests import factories
from tests.inventory.helpers import assert_levels_equal_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant):
    hz = factories.WarehouseFactory(tenant=tenant, code="HZ", name="杭州仓", priority=1)
    gz = factories.WarehouseFactory(tenant=tenant, code="GZ", name="广州仓", priority=2)
    a = factories.SkuFactory(tenant=tenant, code="A", name="短袖")
    b = factories.SkuFactory(tenant=tenant, code="B", name="长裤")
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=hz.pk, sku_id=a.pk, quantity=20, actor_label="seed")
    return hz, gz, a, b


def who(rows) -> list[tuple]:
    return sorted({(m.actor_id, m.actor_label) for m in rows}, key=str)


def new_rows(before: int):
    return list(StockMovement.objects.filter(pk__gt=before).order_by("pk"))


def last_pk() -> int:
    return StockMovement.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize("kwargs, expected", [
    ({"actor_label": "user"}, ("owner", "user")),
    ({"actor_id": True, "actor_label": "import"}, ("owner", "import")),  # the user's id, as a signal carries it
    ({"actor_label": "task:inventory.reconcile", "anonymous": True}, (None, "task:inventory.reconcile")),
    ({}, ("owner", "user")),  # a user and no label: "user"
    ({"anonymous": True}, (None, "system")),  # nobody: "system"
])
def test_each_service_writes_the_actor_it_is_given_on_every_row(tenant, owner, world, kwargs, expected):
    hz, gz, a, b = world
    t = tenant.pk
    kwargs = dict(kwargs)
    anonymous, by_id = kwargs.pop("anonymous", False), kwargs.pop("actor_id", False)
    if not anonymous:
        kwargs["actor"] = owner.pk if by_id else owner
    expected = (owner.pk if expected[0] else None, expected[1])
    steps = [
        (lambda: services.stock_receive(tenant_id=t, warehouse_id=gz.pk, sku_id=b.pk, quantity=5, **kwargs), 1),
        (lambda: services.stock_adjust(tenant_id=t, warehouse_id=gz.pk, sku_id=b.pk, delta=-1, **kwargs), 1),
        (lambda: services.stock_count(tenant_id=t, warehouse_id=gz.pk, sku_id=b.pk, counted=9, **kwargs), 1),
        (lambda: services.stock_write_off(tenant_id=t, warehouse_id=gz.pk, sku_id=b.pk, quantity=1, reason="破损",
                                          **kwargs), 1),
        (lambda: services.stock_restock(tenant_id=t, warehouse_id=gz.pk, reference="return:1", lines=[
            {"sku_id": a.pk, "quantity": 1}, {"sku_id": b.pk, "quantity": 2}], **kwargs), 2),
        # one stock row per SKU (the one-statement take) ...
        (lambda: services.stock_reserve_order(tenant_id=t, order_id=7, lines=[
            {"line_id": 71, "sku_id": b.pk, "quantity": 2}], **kwargs), 1),
        # ... several per SKU (the locked path), with the release of what the order held first
        (lambda: services.stock_reserve_order(tenant_id=t, order_id=7, lines=[
            {"line_id": 71, "sku_id": b.pk, "quantity": 2}, {"line_id": 72, "sku_id": a.pk, "quantity": 21}],
            **kwargs), 4),  # release b, take b, take 20 a in HZ + 1 a in GZ
        (lambda: services.stock_release_order(tenant_id=t, order_id=7, **kwargs), 3),
        (lambda: services.stock_reserve_order(tenant_id=t, order_id=8, lines=[
            {"line_id": 81, "sku_id": a.pk, "quantity": 3}], **kwargs), 1),
        (lambda: services.stock_consume_order(tenant_id=t, order_id=8, reference="shipment:1", **kwargs), 1),
    ]
    transfer = services.transfer_create(tenant_id=t, source_id=hz.pk, destination_id=gz.pk, lines={a.pk: 2})
    steps += [
        (lambda: services.transfer_ship(tenant_id=t, transfer_id=transfer.pk, **kwargs), 1),
        (lambda: services.transfer_receive(tenant_id=t, transfer_id=transfer.pk,
                                           quantities={transfer.lines.get().pk: 2}, **kwargs), 1),
    ]
    for number, (run, rows) in enumerate(steps):
        before = last_pk()
        run()
        written = new_rows(before)
        assert len(written) == rows, (number, [(m.kind, m.sku_id) for m in written])
        assert who(written) == [expected], (number, who(written))
    assert_levels_equal_ledger()


def test_transfers_through_the_page_and_the_admin_name_the_user(tenant, owner, owner_client, world):
    hz, gz, a, b = world
    t1 = services.transfer_create(tenant_id=tenant.pk, source_id=hz.pk, destination_id=gz.pk, lines={a.pk: 3})
    owner_client.post(reverse("inventory:transfer_action", args=[t1.pk, "ship"]))
    line = t1.lines.get()
    owner_client.post(reverse("inventory:transfer_action", args=[t1.pk, "receive"]), {f"recv_{line.pk}": "3"})
    rows = StockMovement.objects.filter(reference=f"transfer:{t1.pk}")
    assert sorted(rows.values_list("kind", "actor_id", "actor_label")) == [
        (MovementKind.TRANSFER_IN, owner.pk, "user"), (MovementKind.TRANSFER_OUT, owner.pk, "user")]

    t2 = services.transfer_create(tenant_id=tenant.pk, source_id=hz.pk, destination_id=gz.pk, lines={a.pk: 2})
    resp = owner_client.post("/admin/inventory/transferorder/", {"action": "ship_selected", "_selected_action": [t2.pk]})
    assert resp.status_code == 302
    assert list(StockMovement.objects.filter(reference=f"transfer:{t2.pk}").values_list("actor_id", "actor_label")) == [
        (owner.pk, "user")]


def test_a_csv_stock_count_names_the_importing_user_and_import(tenant, owner, owner_client, world):
    hz, gz, a, b = world
    # the console import (orders.resources StockImporter), as its page and its background job call it
    report = import_run(tenant_id=tenant.pk, kind="stock", data=b"warehouse,sku,on_hand\nHZ,A,25\nGZ,B,4\n",
                        filename="count.csv", actor=owner)
    assert report.applied, report.errors
    rows = StockMovement.objects.filter(kind=MovementKind.ADJUST)
    assert sorted(rows.values_list("sku__code", "on_hand_delta", "actor_id", "actor_label")) == [
        ("A", 5, owner.pk, "import"), ("B", 4, owner.pk, "import")]

    # the admin's import of stock levels (preview, then confirm)
    upload = SimpleUploadedFile("count.csv", b"warehouse,sku,on_hand\nHZ,A,30\n", content_type="text/csv")
    resp = owner_client.post("/admin/inventory/stocklevel/import/", {"resource": 0, "format": 0, "import_file": upload})
    confirm = resp.context["confirm_form"]
    before = last_pk()
    resp = owner_client.post("/admin/inventory/stocklevel/process_import/", {**confirm.initial, "resource": 0, "format": 0})
    assert resp.status_code == 302
    assert [(m.on_hand_delta, m.actor_id, m.actor_label) for m in new_rows(before)] == [(5, owner.pk, "import")]


def test_the_stock_moving_signals_pass_their_actor_to_the_ledger(tenant, owner, world):
    """What orders and logistics will send (oms/signals.py): a pull's reservation names the
    platform, a person's action the user; without the kwargs the rows say "system"."""
    hz, gz, a, b = world
    line = [{"line_id": 11, "sku_id": a.pk, "quantity": 2}]
    with transaction.atomic():
        signals.order_accepted.send(sender=None, tenant_id=tenant.pk, order_id=1, lines=line,
                                    actor_label="channel:taobao")
    with transaction.atomic():
        signals.orders_accepted.send(sender=None, tenant_id=tenant.pk, actor_label="channel:shopify", orders=[
            {"order_id": 2, "lines": [{"line_id": 21, "sku_id": a.pk, "quantity": 1}]},
            {"order_id": 3, "lines": [{"line_id": 31, "sku_id": a.pk, "quantity": 1}]}])
    with transaction.atomic():
        signals.order_released.send(sender=None, tenant_id=tenant.pk, order_id=2, actor_id=owner.pk,
                                    actor_label="user")
        signals.order_released.send(sender=None, tenant_id=tenant.pk, order_id=3)
        signals.shipment_shipped.send(sender=None, tenant_id=tenant.pk, shipment_id=9, order_id=1, lines=line,
                                      carrier_code="SF", tracking_number="SF1", actor_id=owner.pk,
                                      actor_label="logistics")
        signals.return_received.send(sender=None, tenant_id=tenant.pk, return_id=4, warehouse_id=gz.pk,
                                     lines=[{"sku_id": b.pk, "quantity": 1}], actor_id=owner.pk, actor_label="user")
    got = sorted(StockMovement.objects.exclude(actor_label="seed").values_list(
        "reference", "kind", "actor_id", "actor_label"))
    assert got == [
        ("order:1", MovementKind.RESERVE, None, "channel:taobao"),
        ("order:2", MovementKind.RELEASE, owner.pk, "user"),
        ("order:2", MovementKind.RESERVE, None, "channel:shopify"),
        ("order:3", MovementKind.RELEASE, None, "system"),
        ("order:3", MovementKind.RESERVE, None, "channel:shopify"),
        ("return:4", MovementKind.RETURN, owner.pk, "user"),
        ("shipment:9", MovementKind.SHIP, owner.pk, "logistics"),
    ]
    assert_levels_equal_ledger()


def _page(tenant, skus, n=12):
    return [{"order_id": 100 + i, "lines": [{"line_id": 1000 + i, "sku_id": skus[i % len(skus)].pk, "quantity": 2}]}
            for i in range(n)]


def test_the_bulk_reservation_writes_the_actor_on_every_row_with_no_extra_statement(tenant, owner, world):
    hz, gz, a, b = world
    for sku in (a, b):  # two rows per SKU: the page spreads over both warehouses
        services.stock_receive(tenant_id=tenant.pk, warehouse_id=gz.pk, sku_id=sku.pk, quantity=30)
    with transaction.atomic(), CaptureQueriesContext(connection) as plain:
        services.stock_reserve_orders(tenant_id=tenant.pk, orders=_page(tenant, [a, b]))
    before = last_pk()
    with transaction.atomic(), CaptureQueriesContext(connection) as with_actor:
        services.stock_reserve_orders(tenant_id=tenant.pk, orders=[
            {**o, "order_id": o["order_id"] + 100} for o in _page(tenant, [a, b])],
            actor=owner, actor_label="import")
    rows = new_rows(before)
    assert len(rows) == 12 and {(m.actor_id, m.actor_label) for m in rows} == {(owner.pk, "import")}
    assert len(with_actor.captured_queries) == len(plain.captured_queries)
    if connection.vendor == "postgresql":
        # the baseline before the actor existed: combos, lock, reserved += d, one INSERT for both tables
        assert len(with_actor.captured_queries) == 4
    assert StockMovement.objects.filter(pk__gt=before - 12, pk__lte=before).exclude(
        actor_label="system").count() == 0
    assert_levels_equal_ledger()


def test_the_sku_page_and_the_admin_show_who_moved_the_stock(tenant, owner, owner_client, world):
    hz, gz, a, b = world
    services.stock_count(tenant_id=tenant.pk, warehouse_id=hz.pk, sku_id=a.pk, counted=18, actor=owner,
                         actor_label="import")
    services.stock_reserve_order(tenant_id=tenant.pk, order_id=5, lines=[{"line_id": 51, "sku_id": a.pk, "quantity": 1}],
                                 actor_label="channel:jd")
    html = owner_client.get(reverse("channels:sku_availability", args=[a.pk])).content.decode()
    cells = [c.split("</td>")[0] for c in html.split('<td class="actor">')[1:]]
    assert sorted(cells) == sorted(["channel:jd", f"{owner.username} · import", "seed"])
    html = owner_client.get("/admin/inventory/stockmovement/").content.decode()
    assert "channel:jd" in html and owner.username in html and "来源" in html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_one_statement_reservation_writes_the_actor_too(tenant):
    wh = factories.WarehouseFactory(tenant=tenant)
    sku = factories.SkuFactory(tenant=tenant)
    services.stock_receive(tenant_id=tenant.pk, warehouse_id=wh.pk, sku_id=sku.pk, quantity=5)
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as cq:
        assert services.stock_reserve_order(tenant_id=tenant.pk, order_id=1, actor_label="channel:pdd",
                                            lines=[{"line_id": 1, "sku_id": sku.pk, "quantity": 2}])
    take = cq.captured_queries[1]["sql"]  # the plan, then take + reservation + ledger row in one statement
    assert "inventory_stocklevel" in take and "inventory_stockmovement" in take and "channel:pdd" in take
    assert list(StockMovement.objects.filter(kind=MovementKind.RESERVE).values_list("actor_id", "actor_label")) == [
        (None, "channel:pdd")]
