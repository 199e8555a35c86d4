"""Create and edit pages for cases and their offenders. Thin: a form parses the fields, one
service writes (in its own transaction), and a ValidationError it raises goes back onto the
form's fields: errors next to the field, what was typed kept, status 400, nothing saved.

Who may (cases.access, ../shared/access-model.md):
- registering a case: a case officer of an institution, which becomes the lead;
- editing a case, adding or editing its offenders: a case officer whose institution holds
  *colaborar* on the case (404 if the case is invisible, 403 if visible but not allowed);
- offender identity: only those who may read it (cases.services.offender_register_in_case).
  On an edit page it is shown only after "Mostrar y corregir la identidad", a POST audited like
  every reveal; until then the page edits the statistical fields and leaves identity untouched.

An edit carries the version it was read at; if someone saved in between, the page answers 409
with the current values and the officer's own changes beside them, and overwrites nothing.
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from cases.access import is_case_officer, require_case_permission
from cases.constants import CasePermission
from cases.forms import CaseEditForm, CaseForm, OffenderEditForm, OffenderForm
from cases.models import Case, CaseOffender
from cases.person_edit import PersonEditPage
from cases.selectors import case_get
from cases.services import (
    CASE_EDITABLE_FIELDS,
    CASE_OFFENDER_EDITABLE_FIELDS,
    ConcurrentUpdateError,
    case_create,
    case_update,
    offender_register_in_case,
    offender_update,
)
from kernel.forms import initial_values, render_conflict, render_form
from kernel.web import confidential
from victims.identity import offender_identity_reveal
from victims.selectors import case_identity_allowed

# The service's own message asks API clients to reload; here the page shows the current values.
CASE_CONFLICT_MESSAGE = gettext_lazy(
    "Otra persona modificó esta causa mientras usted la editaba. "
    "Revise los cambios actuales y vuelva a aplicar los suyos."
)
CASE_FORM = "cases/forms/case_form.html"
OFFENDER_FORM = "cases/forms/offender_form.html"


def _case_initial(case: Case) -> dict:
    return {**initial_values(case, CASE_EDITABLE_FIELDS), "version": case.version}


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def case_create_view(request):
    if not is_case_officer(request.user):
        raise PermissionDenied(_("Su rol no permite registrar causas: solo un oficial de casos puede hacerlo."))
    form = CaseForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            case = case_create(actor=request.user, lead_institution=request.user.institution, data=form.case_data())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Causa registrada. Ahora puede agregar sus víctimas e imputados."))
            return redirect("cases:detail", case_id=case.pk)
    return render_form(request, CASE_FORM, form, {"creating": True})


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def case_edit_view(request, case_id: int):
    require_case_permission(request.user, case_id, CasePermission.COLLABORATE, write=True)
    case = case_get(user=request.user, case_id=case_id)
    context = {"case": case, "creating": False}
    if request.method == "GET":
        return render_form(request, CASE_FORM, CaseEditForm(initial=_case_initial(case)), context)
    form = CaseEditForm(request.POST)
    if form.is_valid():
        try:
            case_update(
                actor=request.user,
                case_id=case.pk,
                expected_version=form.cleaned_data["version"],
                data=form.case_data(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except ConcurrentUpdateError:
            current = case_get(user=request.user, case_id=case.pk)
            return render_conflict(
                request,
                CASE_FORM,
                form=CaseEditForm(initial=_case_initial(current)),
                message=CASE_CONFLICT_MESSAGE,
                submitted=form.case_data(),
                current=_case_initial(current),
                context={**context, "case": current},
            )
        else:
            messages.success(request, _("Cambios guardados."))
            return redirect("cases:detail", case_id=case.pk)
    return render_form(request, CASE_FORM, form, context)


# --- offenders ----------------------------------------------------------------------------------

OFFENDER_STATISTICAL_FIELDS = ("sex", "nationality")


def _offender_initial(link: CaseOffender) -> dict:
    return {
        **initial_values(link.offender, OFFENDER_STATISTICAL_FIELDS),
        **initial_values(link, CASE_OFFENDER_EDITABLE_FIELDS),
        "version": link.offender.version,
    }


def _offenders_page(case: Case) -> HttpResponse:
    return redirect("cases:offenders", case_id=case.pk)


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def offender_create_view(request, case_id: int):
    require_case_permission(request.user, case_id, CasePermission.COLLABORATE, write=True)
    case = case_get(user=request.user, case_id=case_id)
    identity = case_identity_allowed(user=request.user, case=case)
    form = OffenderForm(request.POST if request.method == "POST" else None, identity=identity)
    if form.is_bound and form.is_valid():
        try:
            link = offender_register_in_case(
                actor=request.user, case_id=case.pk, data=form.person_data(), link_data=form.link_data()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Imputado %(code)s registrado en la causa.") % {"code": link.offender.code})
            return _offenders_page(case)
    return render_form(request, OFFENDER_FORM, form, {"case": case, "creating": True})


OFFENDER_EDIT = PersonEditPage(
    person="offender",
    form_class=OffenderEditForm,
    template=OFFENDER_FORM,
    initial=_offender_initial,
    saved_message=gettext_lazy("Cambios del imputado %(code)s guardados."),
    done_url="cases:offenders",
)


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def offender_edit_view(request, case_id: int, offender_id):
    require_case_permission(request.user, case_id, CasePermission.COLLABORATE, write=True)
    case = case_get(user=request.user, case_id=case_id)
    link = get_object_or_404(CaseOffender.objects.select_related("offender"), case_id=case.pk, offender_id=offender_id)
    context = {
        "case": case,
        "offender": link.offender,
        "creating": False,
        "identity_allowed": case_identity_allowed(user=request.user, case=case),
    }
    return OFFENDER_EDIT.respond(
        request,
        link=link,
        context=context,
        reveal=partial(offender_identity_reveal, user=request.user, case_id=case.pk, offender_id=link.offender_id),
        update=partial(offender_update, actor=request.user, case_id=case.pk, offender_id=link.offender_id),
    )
