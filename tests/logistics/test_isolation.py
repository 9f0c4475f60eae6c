"""Another tenant's ids answer 404 on every logistics page, PDF and JSON endpoint."""

import pytest

from logistics.models import BulkShipJob, Shipment
from tests import factories
from tests.factories_logistics import carrier

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_tenant):
    order = factories.OrderFactory(tenant=other_tenant)
    s = Shipment.objects.create(tenant=other_tenant, order=order, carrier=carrier("YTO"), tracking_number="YT1",
                                status="labelled")
    job = BulkShipJob.objects.create(tenant=other_tenant, order_ids=[order.pk], total=1, pdf_path="logistics/x.pdf")
    return {"order": order, "shipment": s, "job": job}


@pytest.fixture
def mine(tenant):
    order = factories.OrderFactory(tenant=tenant)
    s = Shipment.objects.create(tenant=tenant, order=order, carrier=carrier("YTO"), tracking_number="YT2",
                                status="labelled")
    job = BulkShipJob.objects.create(tenant=tenant, order_ids=[order.pk], total=1)
    return {"order": order, "shipment": s, "job": job}


def urls(d):
    s, o, j = d["shipment"].pk, d["order"].pk, d["job"].pk
    return [f"/logistics/shipments/{s}/", f"/logistics/shipments/{s}/label.pdf",
            f"/logistics/orders/{o}/packing-slip.pdf", f"/logistics/pick-list.pdf?order={o}",
            f"/logistics/bulk-ship/{j}/", f"/logistics/bulk-ship/{j}/status.json",
            f"/logistics/bulk-ship/{j}/documents.pdf"]


def test_every_page_of_another_tenant_is_a_404(owner_client, mine, theirs):
    for url in urls(theirs):
        assert owner_client.get(url).status_code == 404, url
    for op in ("override", "cancel", "waybill", "ship"):
        resp = owner_client.post(f"/logistics/shipments/{theirs['shipment'].pk}/{op}/", {"carrier": "SF:"})
        assert resp.status_code == 404, op
    assert owner_client.post(f"/logistics/bulk-ship/{theirs['job'].pk}/rerun/").status_code == 404
    # a pick list mixing own and foreign ids is refused as a whole
    mixed = f"/logistics/pick-list.pdf?order={mine['order'].pk}&order={theirs['order'].pk}"
    assert owner_client.get(mixed).status_code == 404
    theirs["shipment"].refresh_from_db()
    assert theirs["shipment"].status == "labelled" and theirs["shipment"].carrier.code == "YTO"


def test_own_pages_answer(owner_client, mine):
    ok = [u for u in urls(mine) if not u.endswith("documents.pdf")]  # no PDF rendered for this job yet
    for url in ok:
        assert owner_client.get(url).status_code == 200, url
    assert owner_client.get(urls(mine)[-1]).status_code == 404
    for url in ("/logistics/", "/logistics/bulk-ship/", "/logistics/carriers/"):
        assert owner_client.get(url).status_code == 200, url


def test_lists_show_only_own_rows(owner_client, mine, theirs):
    html = owner_client.get("/logistics/").content.decode()
    assert "YT2" in html and "YT1" not in html


def test_pages_need_a_login(client, mine):
    assert client.get(f"/logistics/shipments/{mine['shipment'].pk}/").status_code == 302
    assert client.get(f"/logistics/bulk-ship/{mine['job'].pk}/status.json").status_code == 302
