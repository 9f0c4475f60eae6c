from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .middleware import SESSION_KEY
from .models import Membership


@require_POST
@login_required
def switch_tenant(request):
    """Switch the current tenant; a tenant the user is not a member of answers 404."""
    try:
        tenant_id = int(request.POST.get("tenant_id", ""))
    except ValueError:
        raise Http404
    if not Membership.objects.filter(user=request.user, tenant_id=tenant_id).exists():
        raise Http404
    request.session[SESSION_KEY] = tenant_id
    nxt = request.POST.get("next") or "/admin/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = "/admin/"
    return HttpResponseRedirect(nxt)


def home(request):
    return redirect("admin:index")
