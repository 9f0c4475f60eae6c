"""A worker's memory does not grow with what it pulled: with DEBUG on, Django's per-connection
query log (every statement's SQL with its parameters, bulk inserts of raw payloads included) is
emptied page by page during a pull and at the start of every task a worker runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.signals import task_postrun, task_prerun
from django.db import connection

from channels import tasks
from channels.models import Shop
from tests.channels.conftest import ACCOUNT_KEYS
from tests.channels.test_pipeline import make_shop, pull

pytestmark = pytest.mark.django_db


def test_a_pull_with_debug_on_does_not_keep_the_pages_it_wrote(tenant, sandbox, settings):
    settings.DEBUG = True  # the default of a worker started without DEBUG=0
    now = sandbox.state.now()
    shop = make_shop(tenant, sandbox, "taobao")
    Shop.objects.filter(pk=shop.pk).update(high_water_mark=now - timedelta(hours=2))
    sandbox.state.generate_orders("taobao", ACCOUNT_KEYS["taobao"], 100, seed=3, status="paid",
                                  start=now - timedelta(minutes=100), end=now - timedelta(minutes=10))
    run = pull(shop, sandbox, now, page_size=20)
    assert (run.status, run.created) == ("ok", 100), run.error
    logged = [q["sql"] for q in connection.queries]
    assert logged, "DEBUG is on: the statements after the last page are still logged"
    assert not [sql for sql in logged if 'INSERT INTO "channels_raworder"' in sql]


def _log_marker() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT 'left over from before the task'")
    assert any("left over" in q["sql"] for q in connection.queries)


def test_a_task_in_a_worker_starts_with_an_empty_query_log(tenant, settings):
    settings.DEBUG = True
    _log_marker()
    # what the worker's tracer sends before it runs a task it received (not an eager call)
    task_prerun.send(sender=tasks.dispatch_due_pulls, task_id="t-1", task=tasks.dispatch_due_pulls, args=(),
                     kwargs={})
    try:
        assert not any("left over" in q["sql"] for q in connection.queries)
    finally:  # and what it sends afterwards (the task's database scope is put back)
        task_postrun.send(sender=tasks.dispatch_due_pulls, task_id="t-1", task=tasks.dispatch_due_pulls)


def test_an_eager_task_leaves_its_callers_query_log_alone(tenant, settings):
    settings.DEBUG = True  # e.g. a query-count assertion around a view that runs a task eagerly
    _log_marker()
    tasks.dispatch_due_pulls.apply()
    assert any("left over" in q["sql"] for q in connection.queries)
