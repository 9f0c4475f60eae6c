"""The project's URLs plus one new pattern the URL sweep has not been taught (see test_url_sweep)."""

from django.http import HttpResponse
from django.urls import include, path

from oms.urls import urlpatterns as project

extra = ([path("<int:invoice_id>/invoice.pdf", lambda request, invoice_id: HttpResponse(), name="invoice")],
         "orders_extra")
urlpatterns = [*project, path("orders-extra/", include(extra))]
