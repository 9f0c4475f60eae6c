from django.urls import path

from . import views

app_name = "logistics"
urlpatterns = [
    path("", views.ShipmentListView.as_view(), name="shipment_list"),
    path("shipments/<int:pk>/", views.ShipmentDetailView.as_view(), name="shipment_detail"),
    path("shipments/<int:pk>/label.pdf", views.ShipmentLabelView.as_view(), name="shipment_label"),
    path("shipments/<int:pk>/<str:op>/", views.ShipmentActionView.as_view(), name="shipment_action"),
    path("orders/<int:order_id>/packing-slip.pdf", views.PackingSlipView.as_view(), name="packing_slip"),
    path("pick-list.pdf", views.PickListView.as_view(), name="pick_list"),
    path("bulk-ship/", views.BulkShipView.as_view(), name="bulk_ship"),
    path("bulk-ship/<int:pk>/", views.BulkJobView.as_view(), name="bulk_job"),
    path("bulk-ship/<int:pk>/status.json", views.BulkJobStatusView.as_view(), name="bulk_job_status"),
    path("bulk-ship/<int:pk>/rerun/", views.BulkJobRerunView.as_view(), name="bulk_job_rerun"),
    path("bulk-ship/<int:pk>/documents.pdf", views.BulkJobPdfView.as_view(), name="bulk_job_pdf"),
    path("carriers/", views.CarrierReportView.as_view(), name="carrier_report"),
    path("track/", views.track, name="track"),
]
