from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from institutions.constants import Role
from kernel.models import AccessEvent
from kernel.web import confidential

ACCESS_LOG_PAGE_SIZE = 50


@require_GET
@login_required
@confidential  # names the victims by code and tells who read whose identity
def institution_access_log_view(request):
    """An institutional administrator sees the access events of their own institution."""
    if request.user.role != Role.INSTITUTION_ADMIN or request.user.institution_id is None:
        raise PermissionDenied(_("Solo el administrador institucional puede ver el registro de accesos."))
    events = AccessEvent.objects.filter(institution_id=request.user.institution_id).order_by("-id")
    page = Paginator(events, ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("pagina"))
    return render(request, "kernel/access_log.html", {"page": page})
