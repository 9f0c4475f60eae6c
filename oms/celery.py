"""The Celery application. Broker and schedule come from settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _forget_logged_queries(sender=None, **kwargs) -> None:
    """With DEBUG on, Django keeps the SQL of every query (up to 9,000 per connection, bulk inserts
    with their parameters written out) until the next web request starts. A worker serves no
    requests: start each task with an empty log, so a worker's memory does not grow with it.
    (A task run eagerly belongs to its caller's request or test: its log is left alone.)"""
    from django.conf import settings
    from django.db import reset_queries

    if settings.DEBUG and not (sender is not None and getattr(sender.request, "is_eager", False)):
        reset_queries()
