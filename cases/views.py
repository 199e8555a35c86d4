"""Case pages. Thin: parse input, call one selector or service, render.

Visibility comes from cases.selectors / cases.access: a case the user's institution may not see
answers 404 on every page; a visible case the user may not act on answers 403.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from cases.access import require_case_permission, user_case_permissions
from cases.constants import CasePermission
from cases.selectors import access_requests_for_lead, case_get, case_list_page, case_shares
from cases.sharing import access_request_decide, case_share, case_unshare
from institutions.models import Institution
from kernel.models import AccessEvent
from kernel.web import confidential, refused_input
from victims.identity import offender_identity_reveal
from victims.selectors import case_victims

PAGE_SIZE = 25


@require_GET
@login_required
def case_list_view(request):
    page = case_list_page(user=request.user, number=request.GET.get("pagina"), size=PAGE_SIZE)
    return render(request, "cases/case_list.html", {"page": page})


@require_GET
@login_required
@confidential
def case_detail_view(request, case_id: int):
    case = case_get(user=request.user, case_id=case_id)
    context = {
        "case": case,
        "victim_links": case_victims(user=request.user, case_id=case.pk),
        "offender_links": case.offender_links.select_related("offender"),
        "permissions": user_case_permissions(request.user, case.pk),
    }
    return render(request, "cases/case_detail.html", context)


@login_required
@confidential
@refused_input
def case_share_view(request, case_id: int):
    shares = case_shares(user=request.user, case_id=case_id)  # 404 / 403 unless the lead's
    if request.method == "POST":
        institution_id = request.POST.get("institution", "")
        institution = Institution.objects.filter(pk=institution_id).first() if institution_id.isdigit() else None
        case_share(
            actor=request.user,
            case_id=case_id,
            institution=institution,
            reason=request.POST.get("reason", ""),
            can_view_identity=request.POST.get("can_view_identity") == "on",
            can_collaborate=request.POST.get("can_collaborate") == "on",
            legal_basis=request.POST.get("legal_basis", ""),
            consent_ids=[int(value) for value in request.POST.getlist("consents") if value.isdigit()],
        )
        return redirect("cases:share", case_id=case_id)
    case = case_get(user=request.user, case_id=case_id)
    institutions = Institution.objects.filter(is_active=True).exclude(pk=case.lead_institution_id)
    return render(request, "cases/case_share.html", {"case": case, "shares": shares, "institutions": institutions})


@require_POST
@login_required
@refused_input
def case_unshare_view(request, case_id: int, share_id: int):
    get_object_or_404(case_shares(user=request.user, case_id=case_id), pk=share_id)  # 404/403 unless the lead's
    case_unshare(actor=request.user, share_id=share_id, reason=request.POST.get("reason", ""))
    return redirect("cases:share", case_id=case_id)


@require_GET
@login_required
def case_access_log_view(request, case_id: int):
    """Who accessed this case and when: for the lead institution."""
    require_case_permission(request.user, case_id, CasePermission.ADMINISTER, write=False)
    case = case_get(user=request.user, case_id=case_id)
    victim_codes = case.victims.values_list("code", flat=True)
    events = AccessEvent.objects.filter(case_id=case.pk) | AccessEvent.objects.filter(victim_code__in=victim_codes)
    page = Paginator(events.order_by("-id"), 50).get_page(request.GET.get("pagina"))
    return render(request, "cases/case_access_log.html", {"case": case, "page": page})


@require_POST
@login_required
@confidential
@refused_input
def offender_identity_view(request, case_id: int, offender_id):
    identity = offender_identity_reveal(user=request.user, case_id=case_id, offender_id=offender_id)
    return render(request, "cases/identity.html", {"identity": identity})


@require_GET
@login_required
def access_request_list_view(request):
    return render(request, "cases/access_requests.html", {"requests": access_requests_for_lead(user=request.user)})


@require_POST
@login_required
@refused_input
def access_request_decide_view(request, request_id: int):
    get_object_or_404(access_requests_for_lead(user=request.user), pk=request_id)
    access_request_decide(
        actor=request.user,
        request_id=request_id,
        approve={"aprobar": True, "rechazar": False}.get(request.POST.get("decision", "")),
        note=request.POST.get("note", ""),
        can_view_identity=request.POST.get("can_view_identity") == "on",
        legal_basis=request.POST.get("legal_basis", ""),
    )
    return redirect("cases:access_requests")
