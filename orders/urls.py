from django.urls import path

from . import lookup, reports, resources, views, worklists

app_name = "orders"
urlpatterns = [
    path("", views.OrderListView.as_view(), name="list"),
    path("merge/", views.MergeQueueView.as_view(), name="merge_queue"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="detail"),
    # ops console (worklists, CS lookup, import, reports)
    path("work/", worklists.worklist_home, name="worklists"),
    path("work/<slug:tab>/", worklists.WorklistView.as_view(), name="worklist"),
    path("lookup/", lookup.LookupView.as_view(), name="lookup"),
    path("import/", resources.ImportView.as_view(), name="import"),
    path("import/template/<slug:kind>.<slug:fmt>", resources.ImportTemplateView.as_view(), name="import_template"),
    path("import/jobs/<int:pk>/", resources.ImportJobView.as_view(), name="import_job"),
    path("import/jobs/<int:pk>/status.json", resources.ImportJobStatusView.as_view(), name="import_job_status"),
    path("reports/", reports.ReportView.as_view(), name="reports"),
    path("reports/<slug:kind>/", reports.ReportView.as_view(), name="report"),
]
