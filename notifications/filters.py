import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .models import Notification


class NotificationFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("搜索"))

    class Meta:
        model = Notification
        fields = ["status", "channel", "template"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        q = Q(dedupe_key__icontains=value) | Q(subject__icontains=value) | Q(body__icontains=value)
        if value.isdigit():
            q |= Q(order_id=int(value)) | Q(shipment_id=int(value)) | Q(pk=int(value))
        return queryset.filter(q)
