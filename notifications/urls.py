from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.NotificationListView.as_view(), name="list"),
    path("<int:pk>/", views.NotificationDetailView.as_view(), name="detail"),
    path("<int:pk>/retry/", views.NotificationRetryView.as_view(), name="retry"),
    path("templates/install-defaults/", views.TemplateDefaultsInstallView.as_view(), name="install_defaults"),
]
