"""Register a victim into a case, and edit one. Same shape as cases.form_views: a form parses,
one service writes, its ValidationError goes back onto the fields (400, nothing saved), an edit
from a stale version answers 409 with the current values.

Who may: a case officer whose institution holds *colaborar* on the case. Identity fields are
offered only to those who may write them (victims.services.victim_register_in_case): on
registration the lead or a grantee with identity access on a legal basis; on an edit, those who
may read this victim's identity, and only after "Mostrar y corregir la identidad" (a POST,
audited like every reveal).

Registration warns about a possible duplicate before saving: as soon as the document is typed
(htmx, duplicate_warning_view) and again on submit, which works without JavaScript. The check
is victims.services.victim_duplicates_check, audited. A person the institution may already
identify is named by victim code and case: a victim of this very case is refused on the
document field (nothing saved), a victim of another case is offered "Vincular a esta víctima"
(victim_link_view, which links that person instead of registering them again). A person held
only where the officer cannot read identity is told by institution names alone, and saving
anyway takes an explicit "Registrar de todas formas". The document travels only in POST bodies.
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from cases.access import require_case_permission
from cases.constants import CasePermission
from cases.models import Case
from cases.person_edit import PersonEditPage
from cases.selectors import case_get
from kernel.client_ip import client_ip
from kernel.forms import initial_values, render_form
from kernel.web import confidential
from victims.forms import DUPLICATE_WARNING_ID, LINK_ACTIONS_ID, VictimCreateForm, VictimEditForm
from victims.identity import victim_identity_reveal
from victims.models import CaseVictim
from victims.selectors import case_identity_allowed, victim_identity_allowed
from victims.services import (
    ALREADY_IN_CASE_MESSAGE,
    CASE_VICTIM_EDITABLE_FIELDS,
    NO_DUPLICATES,
    Duplicates,
    victim_duplicates_check,
    victim_link_check,
    victim_link_existing_to_case,
    victim_register_in_case,
    victim_update,
)

VICTIM_FORM = "victims/forms/victim_form.html"
DUPLICATE_WARNING_SWAP = "victims/forms/_duplicate_warning_swap.html"
VICTIM_STATISTICAL_FIELDS = ("sex", "nationality", "birth_year", "age_at_identification")


def _victims_page(case: Case) -> HttpResponse:
    return redirect("cases:victims", case_id=case.pk)


def _duplicates(request, case: Case, document_type: str, document_number: str) -> Duplicates:
    """What the duplicate warning says about this document (nothing for a missing or malformed
    one: its error is reported on the field when the form is saved)."""
    if not (document_type and document_number):
        return NO_DUPLICATES
    try:
        return victim_duplicates_check(
            user=request.user,
            case_id=case.pk,
            document_type=document_type,
            document_number=document_number,
            ip_address=client_ip(request),
        )
    except ValidationError:
        return NO_DUPLICATES


def _registration_context(case: Case) -> dict:
    return {"case": case, "creating": True, "warning_id": DUPLICATE_WARNING_ID, "link_actions_id": LINK_ACTIONS_ID}


def _writes_identity_into(request, case_id: int) -> Case:
    """The case, if the user may register a victim with identity into it (what the duplicate
    warning serves): Http404 / PermissionDenied otherwise."""
    require_case_permission(request.user, case_id, CasePermission.COLLABORATE, write=True)
    case = case_get(user=request.user, case_id=case_id)
    if not case_identity_allowed(user=request.user, case=case):
        raise PermissionDenied(_("Su institución no tiene acceso a la identidad en esta causa."))
    return case


@require_POST
@login_required
@confidential
def duplicate_warning_view(request, case_id: int):
    """The warning region of the registration form, refreshed by htmx when the document changes,
    with the "Vincular a esta víctima" buttons swapped in among the form's buttons (out of band).

    POST only: the document number travels in the body, never in a URL. Answers 200 with empty
    regions when there is nothing to say, so htmx always swaps them in.
    """
    case = _writes_identity_into(request, case_id)
    document_type = request.POST.get("document_type", "")
    document_number = request.POST.get("document_number", "").strip()
    context = {
        **_registration_context(case),
        "duplicates": _duplicates(request, case, document_type, document_number),
    }
    return render(request, DUPLICATE_WARNING_SWAP, context)


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def victim_create_view(request, case_id: int):
    require_case_permission(request.user, case_id, CasePermission.COLLABORATE, write=True)
    case = case_get(user=request.user, case_id=case_id)
    identity = case_identity_allowed(user=request.user, case=case)
    context = _registration_context(case)
    if request.method == "GET":
        initial = {"purpose": case.purpose, "region_detected": case.region_detected}
        form = VictimCreateForm(identity=identity, case_id=case.pk, initial=initial)
        return render_form(request, VICTIM_FORM, form, context)
    form = VictimCreateForm(request.POST, identity=identity, case_id=case.pk)
    if form.is_valid():
        data = form.cleaned_data
        duplicates = (
            _duplicates(request, case, data["document_type"], data["document_number"])
            if form.wants_duplicate_check()
            else NO_DUPLICATES
        )
        context["duplicates"] = duplicates
        if duplicates.in_case:
            # The same person twice in one case would be counted twice: refused, nothing saved.
            form.add_error("document_number", ALREADY_IN_CASE_MESSAGE % {"code": duplicates.in_case.code})
            return render_form(request, VICTIM_FORM, form, context)
        if duplicates:
            # Nothing saved: the officer links the person found, confirms, or looks further.
            return render(request, VICTIM_FORM, {"form": form, **context}, status=409)
        try:
            link = victim_register_in_case(
                actor=request.user, case_id=case.pk, data=form.person_data(), link_data=form.link_data()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Víctima %(code)s registrada en la causa.") % {"code": link.victim.code})
            return _victims_page(case)
    return render_form(request, VICTIM_FORM, form, context)


@require_POST
@login_required
@confidential
def victim_link_view(request, case_id: int, victim_id):
    """ "Vincular a esta víctima": the registration form, sent to link the person the duplicate
    warning found instead of registering them again (the button's formaction, so it works with
    and without JavaScript, and the officer's "En esta causa" answers come along).

    Only the victim's part in this case is taken from the form; the person's own record stays as
    registered. Refusals come before the form is read (victims.services.victim_link_check). Bad
    answers, or a person already in the case, bring the form back (400) as it was sent, with the
    warning, nothing saved.
    """
    case, victim = victim_link_check(actor=request.user, case_id=case_id, victim_id=victim_id)
    form = VictimCreateForm(request.POST, identity=True, case_id=case.pk)
    form.is_valid()
    form.keep_link_errors_only()
    if not form.errors:
        try:
            victim_link_existing_to_case(
                actor=request.user, case_id=case.pk, victim_id=victim.pk, link_data=form.link_data()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Víctima %(code)s vinculada a la causa.") % {"code": victim.code})
            return _victims_page(case)
    document_type = request.POST.get("document_type", "")
    document_number = request.POST.get("document_number", "").strip()
    context = {**_registration_context(case), "duplicates": _duplicates(request, case, document_type, document_number)}
    return render_form(request, VICTIM_FORM, form, context)


def _victim_initial(link: CaseVictim) -> dict:
    return {
        **initial_values(link.victim, VICTIM_STATISTICAL_FIELDS),
        **initial_values(link, CASE_VICTIM_EDITABLE_FIELDS),
        "version": link.victim.version,
    }


VICTIM_EDIT = PersonEditPage(
    person="victim",
    form_class=VictimEditForm,
    template=VICTIM_FORM,
    initial=_victim_initial,
    saved_message=gettext_lazy("Cambios de la víctima %(code)s guardados."),
    done_url="cases:victims",
)


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def victim_edit_view(request, case_id: int, victim_id):
    require_case_permission(request.user, case_id, CasePermission.COLLABORATE, write=True)
    case = case_get(user=request.user, case_id=case_id)
    link = get_object_or_404(CaseVictim.objects.select_related("victim"), case_id=case.pk, victim_id=victim_id)
    context = {
        "case": case,
        "victim": link.victim,
        "creating": False,
        "identity_allowed": victim_identity_allowed(user=request.user, victim=link.victim),
    }
    return VICTIM_EDIT.respond(
        request,
        link=link,
        context=context,
        reveal=partial(
            victim_identity_reveal,
            user=request.user,
            victim_id=link.victim_id,
            ip_address=client_ip(request),
        ),
        update=partial(victim_update, actor=request.user, case_id=case.pk, victim_id=link.victim_id),
    )
