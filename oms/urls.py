from django.conf.urls.i18n import i18n_patterns  # noqa: F401  (kept for later pages)
from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("tenant/switch/", views.switch_tenant, name="switch_tenant"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
