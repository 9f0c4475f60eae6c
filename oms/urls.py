from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("tenant/switch/", views.switch_tenant, name="switch_tenant"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("orders/", include("orders.urls")),
    path("inventory/", include("inventory.urls")),
    path("logistics/", include("logistics.urls")),
    path("notifications/", include("notifications.urls")),
    path("channels/", include("channels.urls")),
]
