from django.urls import path

from . import views, webhooks

app_name = "channels"
urlpatterns: list = [
    path("skus/<int:sku_id>/", views.SkuAvailabilityView.as_view(), name="sku_availability"),
    path("hooks/shopify/<int:shop_id>/", webhooks.shopify_webhook, name="shopify_webhook"),
    path("hooks/douyin/<int:shop_id>/", webhooks.douyin_push, name="douyin_push"),
]
