"""Every URL pattern of the project, walked from the resolver, with another tenant's ids.

Logged in as tenant A's owner (the widest role), every pattern with a path parameter is asked
with tenant B's ids -- it must answer 404 -- and with A's own ids -- it must answer (200 after
redirects), so the sweep is not vacuous. The query parameters that carry ids (pick list
?order=, worklist/export filters, report ?shop=, admin list filters, bulk posts) are swept the
same way. No response of the sweep may contain any of B's data.

A new pattern whose parameter the sweep does not know makes `test_every_parameter_of_every_url_
pattern_is_known` fail: teach PATH_PARAMS (or ADMIN_*) how to fill it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from inventory.models import Sku, TransferOrder
from inventory.views import TransferActionView
from logistics.models import BulkShipJob, Carrier, Shipment
from notifications.models import Notification
from oms.models import ImportJob, Membership, Tenant, TenantOwned
from orders.models import Order
from orders.reports import REPORTS
from orders.resources import IMPORTERS
from orders.worklists import BY_KEY
from tests import factories

pytestmark = pytest.mark.django_db


# --- the resolver ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    name: str  # "ns:name", or the route text for unnamed patterns
    route: str
    params: tuple[str, ...]
    callback: object

    def __str__(self) -> str:
        return f"{self.name} ({self.route})"


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>")


def routes() -> list[Route]:
    out: list[Route] = []

    def walk(resolver, prefix: str, ns: str | None):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                sub = ns if not p.namespace else (f"{ns}:{p.namespace}" if ns else p.namespace)
                walk(p, prefix + str(p.pattern), sub)
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                params = tuple(a or b for a, b in _PARAM.findall(route))
                name = f"{ns}:{p.name}" if ns and p.name else (p.name or route)
                out.append(Route(name, route, params, p.callback))

    walk(get_resolver(), "", None)
    return out


def _model_admin(route: Route):
    return getattr(route.callback, "model_admin", None)


# --- how to fill each path parameter -------------------------------------------------------------
#: url name -> {parameter: a tenant-owned model (own / other tenant's id) or the literal values to try}
PATH_PARAMS: dict[str, dict[str, object]] = {
    "orders:detail": {"pk": Order},
    "orders:worklist": {"tab": list(BY_KEY)},
    "orders:import_template": {"kind": list(IMPORTERS), "fmt": ["csv", "xlsx"]},
    "orders:import_job": {"pk": ImportJob},
    "orders:import_job_status": {"pk": ImportJob},
    "orders:report": {"kind": [k for k, _label in REPORTS]},
    "inventory:transfer_detail": {"pk": TransferOrder},
    "inventory:transfer_action": {"pk": TransferOrder, "op": list(TransferActionView.OPS)},
    "logistics:shipment_detail": {"pk": Shipment},
    "logistics:shipment_label": {"pk": Shipment},
    "logistics:shipment_action": {"pk": Shipment, "op": ["override", "cancel", "waybill", "ship"]},
    "logistics:packing_slip": {"order_id": Order},
    "logistics:bulk_job": {"pk": BulkShipJob},
    "logistics:bulk_job_status": {"pk": BulkShipJob},
    "logistics:bulk_job_rerun": {"pk": BulkShipJob},
    "logistics:bulk_job_pdf": {"pk": BulkShipJob},
    "notifications:detail": {"pk": Notification},
    "notifications:retry": {"pk": Notification},
    "channels:sku_availability": {"sku_id": Sku},
    # platform webhooks: public, authenticated by the platform's signature, not by the session
    "channels:shopify_webhook": {"shop_id": "signed"},
    "channels:douyin_push": {"shop_id": "signed"},
    # the admin's "view on site" shortcut: (content type, object) of a tenant-owned object
    # the admin's password form of a user: platform operators only
    "admin:auth_user_password_change": {"id": "platform_user"},
    "admin:view_on_site": {"content_type_id": "content_type", "object_id": "content_type"},
}

#: admin models only the platform operator (superuser) may open: a tenant owner gets 403 for any id
ADMIN_PLATFORM_ONLY = {get_user_model(), Group, Tenant} | {
    m for m in admin.site._registry if m._meta.app_label in ("django_celery_beat", "axes")}
#: shared reference data, the same rows for every tenant: readable by any member, so no "foreign" id
ADMIN_GLOBAL = {Carrier}
#: not tenant-owned, scoped by hand in its admin: another tenant's row is a 404
ADMIN_SCOPED_BY_HAND = {Membership}


def unknown_patterns() -> list[str]:
    """Patterns with a parameter the sweep cannot fill."""
    unknown = []
    for r in routes():
        if not r.params:
            continue
        ma = _model_admin(r)
        if ma is not None:
            model = ma.model
            known = set(r.params) <= {"object_id", "id"} and (
                issubclass(model, TenantOwned) or model in ADMIN_PLATFORM_ONLY | ADMIN_GLOBAL | ADMIN_SCOPED_BY_HAND)
            if known:
                continue
        elif r.name in ("admin:app_list",) or r.route == "admin/(?P<url>.*)$":
            continue
        elif set(PATH_PARAMS.get(r.name, {})) == set(r.params):
            continue
        unknown.append(str(r))
    return unknown


def test_every_parameter_of_every_url_pattern_is_known():
    unknown = unknown_patterns()
    assert not unknown, f"the URL sweep does not know how to fill these patterns: {unknown}"


def test_a_new_pattern_with_an_unknown_parameter_is_reported(settings):
    settings.ROOT_URLCONF = "tests.oms.sweep_extra_urls"
    assert unknown_patterns() == ["orders_extra:invoice (orders-extra/<int:invoice_id>/invoice.pdf)"]


# --- the two tenants' data ------------------------------------------------------------------------
class World:
    def __init__(self, tenant, other_tenant, settings, tmp_path):
        self.tenant, self.other = tenant, other_tenant
        self.own: dict[type, object] = {}
        self.theirs: dict[type, object] = {}
        for model, factory in factories.FACTORIES.items():
            self.own[model] = factory(tenant=tenant)
            self.theirs[model] = factory(tenant=other_tenant)
        # a bulk job with its documents, so the own PDF answers
        settings.MEDIA_ROOT = str(tmp_path)
        for job in (self.own[BulkShipJob], self.theirs[BulkShipJob]):
            (tmp_path / f"bulk-{job.pk}.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
            job.pdf_path = f"bulk-{job.pk}.pdf"
            job.save(update_fields=["pdf_path"])
        self.other_owner = factories.member(other_tenant, "owner")
        self.group = Group.objects.create(name="platform-ops")
        self._platform_rows()
        self.carrier = Carrier.objects.order_by("pk").first() or Carrier.objects.create(code="SF", name="顺丰速运")
        self.markers = self._markers()

    @staticmethod
    def _platform_rows() -> None:
        """One row in each platform-only table, so its admin pages are asked about a real object."""
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog
        from django.utils import timezone
        from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

        interval = IntervalSchedule.objects.create(every=1, period="minutes")
        PeriodicTask.objects.create(name="sweep", task="oms.none", interval=interval)
        ClockedSchedule.objects.create(clocked_time=timezone.now())
        CrontabSchedule.objects.create()
        SolarSchedule.objects.create(event="sunrise", latitude=30, longitude=120)
        AccessAttempt.objects.create(username="x", ip_address="10.0.0.9", user_agent="", get_data="", post_data="",
                                     http_accept="", path_info="/", failures_since_start=1)
        AccessLog.objects.create(username="x", ip_address="10.0.0.9", user_agent="", http_accept="", path_info="/")
        AccessFailureLog.objects.create(username="x", ip_address="10.0.0.9", user_agent="", http_accept="",
                                        path_info="/", locked_out=False)

    def _markers(self) -> set[str]:
        """Distinctive text of the other tenant's rows (not shared with ours): must never be shown."""
        def texts(tenant_id):
            out = set()
            for model in factories.FACTORIES:
                fields = [f.attname for f in model._meta.concrete_fields
                          if f.get_internal_type() in ("CharField", "TextField", "SlugField")]
                for row in model._default_manager.filter(tenant_id=tenant_id).values(*fields):
                    out.update(v for v in row.values() if isinstance(v, str))
            return out

        ours = texts(self.tenant.pk)
        return {t for t in texts(self.other.pk)
                if len(t) >= 6 and re.search(r"\d", t) and re.search(r"\D", t) and not any(t in o for o in ours)}

    def admin_object(self, model, foreign: bool):
        if model is get_user_model():
            return self.other_owner
        if model is Group:
            return self.group
        if model is Tenant:
            return self.other if foreign else self.tenant
        if model is Membership:
            return Membership.objects.get(user=self.other_owner) if foreign else Membership.objects.filter(
                tenant=self.tenant).first()
        if model in ADMIN_GLOBAL:
            return self.carrier
        if issubclass(model, TenantOwned):
            return (self.theirs if foreign else self.own)[model]
        return model._default_manager.order_by("pk").first()  # platform-only tables (_platform_rows)


@pytest.fixture
def world(tenant, other_tenant, owner, settings, tmp_path):
    w = World(tenant, other_tenant, settings, tmp_path)
    w.tenant_owner = owner
    w.request = RequestFactory().get("/")
    w.request.user, w.request.tenant = owner, tenant
    w.request.membership = Membership.objects.get(user=owner, tenant=tenant)
    return w


def _fills(route: Route, world: World, foreign: bool) -> list[dict]:
    """The kwargs to reverse the pattern with; [] when there is nothing to sweep."""
    spec = PATH_PARAMS.get(route.name)
    if spec is None:
        return []
    if any(v in ("signed", "content_type", "platform_user") for v in spec.values()):
        return []  # own tests below
    choices = []
    has_id = False
    for param in route.params:
        value = spec[param]
        if isinstance(value, type):
            has_id = True
            choices.append([(world.theirs if foreign else world.own)[value].pk])
        else:
            choices.append(list(value))
    if foreign and not has_id:
        return []
    return [dict(zip(route.params, combo, strict=True)) for combo in itertools.product(*choices)]


def _ask(client, url: str, data: dict | None = None):
    """GET; a POST-only view (405) is POSTed to. Redirects are followed (admin's `<id>/` -> `change/`)."""
    resp = client.get(url, follow=True)
    if resp.status_code == 405:
        resp = client.post(url, data or {}, follow=True)
    return resp


def _post_data(world: World) -> dict:
    """What the POST-only pages need besides the ids (the parcel override's carrier)."""
    return {"carrier": world.carrier.code}


def _leaks(resp, world: World, asked: str = "") -> list[str]:
    if getattr(resp, "streaming", False):
        body = b"".join(resp.streaming_content)
    else:
        body = resp.content
    text = body.decode("utf-8", "replace")
    return sorted(m for m in world.markers if m in text and m != asked)


# --- the sweep --------------------------------------------------------------------------------------
def test_other_tenants_ids_answer_404_on_every_url_pattern(owner_client, world):
    assert world.markers, "the other tenant's data must have distinctive text to look for"
    failures, swept = [], 0
    for r in routes():
        if not r.params:
            continue
        ma = _model_admin(r)
        if ma is not None:
            if ma.model in ADMIN_GLOBAL:
                continue  # no tenant's rows in there
            obj = world.admin_object(ma.model, foreign=True)
            url = "/" + re.sub(r"<(?:\w+:)?(?:object_id|id)>", str(obj.pk), r.route)
            want = 403 if ma.model in ADMIN_PLATFORM_ONLY else 404
            cases = [(url, want)]
        elif r.name == "admin:auth_user_password_change":
            cases = [(reverse(r.name, args=[world.other_owner.pk]), 403)]
        else:
            cases = [(reverse(r.name, kwargs=kw), 404) for kw in _fills(r, world, foreign=True)]
        swept += _check(owner_client, world, cases, failures)
    assert swept > 150
    assert not failures, "\n".join(failures)


def _check(client, world, cases, failures: list[str]) -> int:
    """Ask each (url, wanted status); note a wrong status or a page showing the other tenant's data."""
    for url, want in cases:
        resp = _ask(client, url, _post_data(world))
        if resp.status_code != want:
            failures.append(f"{url}: {resp.status_code}, want {want}")
        if leaked := _leaks(resp, world):
            failures.append(f"{url}: shows the other tenant's {leaked}")
    return len(cases)


def test_own_ids_answer_on_every_url_pattern(owner_client, world):
    """The same patterns with tenant A's ids answer -- so the 404s above are not a broken page."""
    failures, swept = [], 0
    for r in routes():
        if not r.params:
            continue
        ma = _model_admin(r)
        if ma is not None:
            obj = world.admin_object(ma.model, foreign=False)
            url = "/" + re.sub(r"<(?:\w+:)?(?:object_id|id)>", str(obj.pk), r.route)
            want = 403 if ma.model in ADMIN_PLATFORM_ONLY else 200
            if r.route.endswith("delete/") and not ma.has_delete_permission(world.request, obj):
                want = 403  # append-only records, orders (cancelled, not deleted), the shared catalogue
            cases = [(url, want)]
        elif r.name == "admin:app_list":
            labels = sorted({m._meta.app_label for m in admin.site._registry if m not in ADMIN_PLATFORM_ONLY})
            cases = [(reverse(r.name, kwargs={"app_label": label}), 200) for label in labels]
        elif r.name == "admin:auth_user_password_change":
            cases = [(reverse(r.name, args=[world.tenant_owner.pk]), 403)]
        else:
            cases = [(reverse(r.name, kwargs=kw), 200) for kw in _fills(r, world, foreign=False)]
        swept += _check(owner_client, world, cases, failures)
    assert swept > 150
    assert not failures, "\n".join(failures)


def test_admin_view_on_site_shortcut_does_not_resolve_another_tenants_object(owner_client, world):
    """Django's shortcut looks objects up unscoped and redirects to get_absolute_url(). No model
    has one today (so own objects answer 404 as well); this guards the day one gets it."""
    from django.contrib.contenttypes.models import ContentType

    for model in (Order, Shipment, Sku):
        ct = ContentType.objects.get_for_model(model)
        theirs = world.theirs[model]
        resp = owner_client.get(reverse("admin:view_on_site", args=[ct.pk, theirs.pk]))
        assert resp.status_code == 404


@pytest.mark.parametrize("name", ["channels:shopify_webhook", "channels:douyin_push"])
def test_webhooks_do_not_take_a_session_for_a_signature(owner_client, world, name):
    """Webhooks are public and signed by the platform: a logged-in owner posting to any shop's
    webhook -- ours or another tenant's -- is refused and nothing is stored."""
    from channels.models import RawOrder

    before = RawOrder.objects.count()
    for shop in (world.own[apps.get_model("channels", "Shop")], world.theirs[apps.get_model("channels", "Shop")]):
        resp = owner_client.post(reverse(name, args=[shop.pk]), data=b"{}", content_type="application/json")
        assert 400 <= resp.status_code < 500, (name, shop.tenant_id, resp.status_code)
        assert not _leaks(resp, world)
    assert RawOrder.objects.count() == before


# --- query parameters that carry ids -----------------------------------------------------------------
def test_pick_list_with_another_tenants_order_is_404_and_own_is_a_pdf(owner_client, world):
    url = reverse("logistics:pick_list")
    theirs, mine = world.theirs[Order], world.own[Order]
    assert owner_client.get(url, {"order": [theirs.pk]}).status_code == 404
    assert owner_client.get(url, {"order": [mine.pk, theirs.pk]}).status_code == 404
    resp = owner_client.get(url, {"order": [mine.pk]})
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"


def test_report_filtered_by_another_tenants_shop_is_404(owner_client, world):
    Shop = apps.get_model("channels", "Shop")
    for kind, _label in REPORTS:
        url = reverse("orders:report", args=[kind])
        assert owner_client.get(url, {"shop": world.theirs[Shop].pk}).status_code == 404, kind
        assert owner_client.get(url, {"shop": world.theirs[Shop].pk, "format": "csv"}).status_code == 404, kind
        assert owner_client.get(url, {"shop": world.own[Shop].pk}).status_code == 200, kind


def test_worklists_and_their_exports_filtered_by_foreign_ids_show_none_of_their_data(owner_client, world):
    Shop = apps.get_model("channels", "Shop")
    Warehouse = apps.get_model("inventory", "Warehouse")
    foreign = {"shop": world.theirs[Shop].pk, "warehouse": world.theirs[Warehouse].pk,
               "carrier": world.carrier.pk}
    for tab in BY_KEY:
        url = reverse("orders:worklist", args=[tab])
        for key in ("shop", "warehouse"):
            for extra in ({}, {"export": "csv"}, {"export": "xlsx"}):
                resp = owner_client.get(url, {key: foreign[key], **extra})
                assert resp.status_code == 200, (tab, key, extra)
                assert not _leaks(resp, world), (tab, key, extra)
                if not extra:
                    assert resp.context["rows"] == [], (tab, key)


def test_search_boxes_never_find_another_tenants_rows(owner_client, world):
    theirs = world.theirs[Order]
    for name in ("orders:list", "orders:lookup", "logistics:shipment_list"):
        for q in (theirs.platform_order_id, theirs.number, world.theirs[Shipment].tracking_number):
            resp = owner_client.get(reverse(name), {"q": q})
            assert resp.status_code == 200, name
            assert not _leaks(resp, world, asked=q), (name, q)  # the query itself stays in the box


def test_bulk_posts_with_another_tenants_ids_act_on_nothing(owner_client, world):
    theirs = world.theirs[Order]
    status = theirs.status
    assert owner_client.post(reverse("orders:merge_queue"), {"order": [theirs.pk, world.own[Order].pk]}).status_code == 404
    resp = owner_client.post(reverse("logistics:bulk_ship"), {"order": [theirs.pk]})
    assert resp.status_code in (302, 404)
    # (in Python: SQLite has no JSON containment lookup)
    assert not any(theirs.pk in job.order_ids for job in BulkShipJob.objects.filter(tenant=world.tenant))
    # the worklists' generic bulk action
    resp = owner_client.post(reverse("orders:worklist", args=["pending_review"]),
                             {"action": "approve", "pk": [theirs.pk]})
    assert resp.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == status


def test_admin_list_filters_and_exports_with_foreign_ids_show_none_of_their_data(owner_client, world):
    swept = 0
    for model in admin.site._registry:
        if not issubclass(model, TenantOwned):
            continue
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for field in model._meta.concrete_fields:
            remote = field.remote_field.model if field.is_relation else None
            if remote is None or not issubclass(remote, TenantOwned) or remote not in world.theirs:
                continue
            swept += 1
            resp = owner_client.get(changelist, {f"{field.name}__id__exact": world.theirs[remote].pk})
            assert resp.status_code in (200, 302), (changelist, field.name)
            if resp.status_code == 200:
                assert list(resp.context["cl"].result_list) == [], (changelist, field.name)
            assert not _leaks(resp, world), (changelist, field.name)
    assert swept > 10
    export = reverse("admin:inventory_stocklevel_export")
    Warehouse = apps.get_model("inventory", "Warehouse")
    resp = owner_client.post(export + f"?warehouse__id__exact={world.theirs[Warehouse].pk}",
                             {"format": "0", "export_items": []})
    assert resp.status_code in (200, 302)
    assert not _leaks(resp, world)
