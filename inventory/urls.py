from django.urls import path

from . import views

app_name = "inventory"
urlpatterns: list = [
    path("low-stock/", views.LowStockView.as_view(), name="low_stock"),
    path("transfers/", views.TransferListView.as_view(), name="transfer_list"),
    path("transfers/suggest/", views.TransferSuggestView.as_view(), name="transfer_suggest"),
    path("transfers/<int:pk>/", views.TransferDetailView.as_view(), name="transfer_detail"),
    path("transfers/<int:pk>/<slug:op>/", views.TransferActionView.as_view(), name="transfer_action"),
]
