from .models import Membership


def tenant(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_tenant": getattr(request, "tenant", None),
        "user_memberships": Membership.objects.filter(user=user).select_related("tenant").order_by("tenant_id"),
    }
