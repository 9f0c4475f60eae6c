"""Test URLs: the project's, plus two views that forget the tenant filter on purpose (the case
row-level security is for). Used only by tests/oms/test_rls.py."""

from django.http import JsonResponse, StreamingHttpResponse
from django.urls import include, path

from orders.models import Order


def forgot_the_filter(request):
    return JsonResponse({"tenants": sorted(set(Order.objects.values_list("tenant_id", flat=True)))})


def streams_without_filter(request):
    # the body is read after the view (and the middleware) returned
    return StreamingHttpResponse(f"{t}\n" for t in Order.objects.values_list("tenant_id", flat=True).distinct())


urlpatterns = [
    path("test-rls/forgot-filter/", forgot_the_filter),
    path("test-rls/stream/", streams_without_filter),
    path("", include("oms.urls")),
]
