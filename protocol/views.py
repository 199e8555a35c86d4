"""Pages of the Protocolo de Atención: the victim's protocol page, the institution's activations,
the bandeja de derivaciones, Sermig's residence queue and the user's notifications.

Thin: parse, call one service or selector, render. Visibility and every rule live in
protocol.services / referrals / residence: not visible answers 404, visible but not allowed 403
(with the reason), an illegal move 409 with the Spanish message, bad input 400 field by field
and nothing saved. Identity is shown only through audited POSTs.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.access import is_case_officer
from kernel.choices import Sex
from kernel.client_ip import client_ip
from kernel.forms import render_form
from kernel.web import confidential, refused_input
from protocol.constants import (
    ACTIONS_NEEDING_A_REASON,
    ACTIVATION_TRANSITIONS,
    OPEN_RESIDENCE_STATES,
    PROVIDER,
    REFERRAL_ACTIONS_NEEDING_A_REASON,
    REFERRAL_TRANSITIONS,
    REFERRER,
    RESIDENCE_TRANSITIONS,
    ActivationAction,
    ActivationState,
    ReferralAction,
    ReferralState,
    ResidenceAction,
    ResidenceState,
)
from protocol.forms import (
    ActivationOpenForm,
    NewPersonActivationForm,
    ReferralCreateForm,
    ResidenceGrantForm,
    TransitionForm,
)
from protocol.models import ProtocolActivation, ResidenceApplication
from protocol.overview import victim_protocol
from protocol.referrals import (
    provider_inbox,
    referral_create,
    referral_get,
    referral_require_party,
    referral_require_referrer,
    referral_transition,
    referral_victim_for_provider,
)
from protocol.residence import (
    has_sermig_capability,
    is_sermig_officer,
    renewable_applications,
    residence_derive,
    residence_derive_allowed,
    residence_get,
    residence_identity_reveal,
    residence_queue,
    residence_require_deriver,
    residence_require_sermig_officer,
    residence_transition,
    residence_visible,
)
from protocol.selectors import activation_get, activation_list, notification_list, notifications_mark_read
from protocol.services import (
    activation_open,
    activation_open_for_new_person,
    activation_record_consent,
    activation_requester_reveal,
    activation_require_manager,
    activation_transition,
    require_officer,
)
from victims.identity import IDENTITY_FIELDS, identity_rows
from victims.models import Victim
from victims.selectors import victim_get, victim_identity_allowed

PAGE_SIZE = 50
ACTIVATION_LIST_SIZE = 500  # the most recently moved; older ones are reached from the victim
MOVE_LABELS = {"note": gettext_lazy("Nota o motivo"), "version": gettext_lazy("Versión")}


def _identity_page(request, title: str, rows: list, *, back: tuple[str, str]):
    """What an audited read shows (the read itself was logged by the service)."""
    back_url, back_label = back
    context = {"title": title, "rows": rows, "back_url": back_url, "back_label": back_label}
    return render(request, "cases/identity.html", context)


# --- the victim's protocol page --------------------------------------------------------------


def _actions(transitions: dict, state: str, labels: type, *, actor: str | None = None) -> list[dict]:
    """The moves possible from ``state`` (for ``actor``, on the referral table), each with its
    Spanish label and whether it must say why."""
    needing_reason = ACTIONS_NEEDING_A_REASON | REFERRAL_ACTIONS_NEEDING_A_REASON | {ResidenceAction.REJECT}
    return [
        {"value": action, "label": labels(action).label, "needs_reason": action in needing_reason}
        for action, (starts, _target, *who) in transitions.items()
        if state in starts and (actor is None or who == [actor])
    ]


def _victim_page(request, victim: Victim, *, open_form=None, referral_form=None, status: int = 200):
    user = request.user
    overview = victim_protocol(user=user, victim=victim)
    officer = is_case_officer(user)
    identity_allowed = victim_identity_allowed(user=user, victim=victim)
    for activation in overview.activations:
        activation.managed = officer and activation.institution_id == user.institution_id
        activation.moves = _actions(ACTIVATION_TRANSITIONS, activation.state, ActivationAction)
        activation.can_refer = activation.managed and identity_allowed and activation.state == ActivationState.ACTIVE
        activation.sees_requester = activation.institution_id == user.institution_id
    open_application = overview.open_application
    context = {
        "victim": victim,
        "overview": overview,
        "can_open": officer and overview.open_activation is None,
        "open_form": open_form or ActivationOpenForm(initial={"requested_on": timezone.localdate()}),
        "referral_form": referral_form or ReferralCreateForm(),
        "can_derive": open_application is None and residence_derive_allowed(user=user, victim=victim),
        "renewable": list(renewable_applications(user=user, victim=victim)),
    }
    return render(request, "protocol/victim_protocol.html", context, status=status)


@require_GET
@login_required
@confidential
def victim_protocol_view(request, victim_id):
    return _victim_page(request, victim_get(user=request.user, victim_id=victim_id))


@require_POST
@login_required
@confidential
@refused_input
def activation_open_view(request, victim_id):
    victim = victim_get(user=request.user, victim_id=victim_id)
    require_officer(request.user)
    form = ActivationOpenForm(request.POST)
    if form.is_valid():
        try:
            activation_open(actor=request.user, victim_id=victim.pk, **form.activation_data())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Se registró la solicitud de ingreso al Protocolo de Atención."))
            return redirect("protocol:victim_protocol", victim_id=victim.pk)
    return _victim_page(request, victim, open_form=form, status=400)


def _move(form: TransitionForm) -> dict:
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    return {
        "action": form.cleaned_data["action"],
        "note": form.cleaned_data["note"],
        "expected_version": form.cleaned_data["version"],
    }


@require_POST
@login_required
@refused_input(labels=MOVE_LABELS)
def activation_transition_view(request, activation_id):
    activation = activation_get(user=request.user, activation_id=activation_id)
    activation_require_manager(request.user, activation)
    activation = activation_transition(
        actor=request.user, activation_id=activation.pk, **_move(TransitionForm(request.POST))
    )
    messages.success(request, _("La activación quedó «%(state)s».") % {"state": activation.get_state_display().lower()})
    return redirect("protocol:victim_protocol", victim_id=activation.victim_id)


@require_POST
@login_required
@refused_input(labels={"consent_on": gettext_lazy("Fecha del consentimiento informado")})
def activation_consent_view(request, activation_id):
    activation = activation_get(user=request.user, activation_id=activation_id)
    activation_require_manager(request.user, activation)
    field = forms.DateField(error_messages={"required": _("Indique la fecha del consentimiento informado.")})
    try:
        consent_on = field.clean(request.POST.get("consent_on", ""))
    except ValidationError as exc:
        raise ValidationError({"consent_on": exc.messages}) from None
    activation_record_consent(actor=request.user, activation_id=activation.pk, consent_on=consent_on)
    messages.success(request, _("Se registró el consentimiento informado."))
    return redirect("protocol:victim_protocol", victim_id=activation.victim_id)


@require_POST
@login_required
@confidential
def activation_requester_view(request, activation_id):
    """Who asked on the victim's behalf: a POST, because reading it is an audited act."""
    activation = activation_get(user=request.user, activation_id=activation_id)
    requester = activation_requester_reveal(
        user=request.user, activation_id=activation.pk, ip_address=client_ip(request)
    )
    return _identity_page(
        request,
        _("Quién solicitó el protocolo"),
        identity_rows(ProtocolActivation, requester),
        back=(reverse("protocol:victim_protocol", args=[activation.victim_id]), _("Volver al protocolo de la víctima")),
    )


@require_POST
@login_required
@confidential
@refused_input
def referral_create_view(request, activation_id):
    activation = activation_get(user=request.user, activation_id=activation_id)
    referral_require_referrer(request.user, activation)
    form = ReferralCreateForm(request.POST)
    if form.is_valid():
        try:
            referral_create(
                actor=request.user,
                activation_id=activation.pk,
                service_type=form.cleaned_data["service_type"],
                provider_id=form.cleaned_data["provider"].pk,
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Se envió la derivación a la institución prestadora."))
            return redirect("protocol:victim_protocol", victim_id=activation.victim_id)
    return _victim_page(request, activation.victim, referral_form=form, status=400)


@require_POST
@login_required
@refused_input(labels={"note": gettext_lazy("Observaciones"), "renews": gettext_lazy("Permiso que se renueva")})
def residence_derive_view(request, victim_id):
    victim = victim_get(user=request.user, victim_id=victim_id)
    residence_require_deriver(request.user, victim)
    renews = request.POST.get("renews") or None
    if renews is not None:
        try:
            renews = ResidenceApplication._meta.pk.to_python(renews)
        except ValidationError:
            raise ValidationError({"renews": [_("Elija un permiso otorgado de esta víctima.")]}) from None
    try:  # the form field's checks (a NUL byte, for one), as every other note
        note = forms.CharField(required=False).clean(request.POST.get("note", ""))
    except ValidationError as exc:
        raise ValidationError({"note": exc.messages}) from None
    residence_derive(actor=request.user, victim_id=victim.pk, note=note, renews_id=renews)
    messages.success(request, _("La víctima quedó derivada a Sermig para la residencia humanitaria."))
    return redirect("protocol:victim_protocol", victim_id=victim.pk)


# --- the institution's activations and a person with no case ----------------------------------


@require_GET
@login_required
@confidential
def activation_list_view(request):
    """The protocols the user's institution activated, open ones first."""
    activations = (
        activation_list(user=request.user)
        .filter(institution_id=request.user.institution_id)
        .order_by("-state_changed_at")
    )
    shown = list(activations[:ACTIVATION_LIST_SIZE])
    open_ones = [a for a in shown if a.is_open]
    closed = [a for a in shown if not a.is_open]
    context = {"open_ones": open_ones, "closed": closed, "can_register": is_case_officer(request.user)}
    return render(request, "protocol/activation_list.html", context)


@require_http_methods(["GET", "POST"])
@login_required
@confidential
@refused_input
def new_person_view(request):
    """A person with no criminal case enters the protocol (registered by this institution)."""
    require_officer(request.user)
    if request.method == "GET":
        form = NewPersonActivationForm(initial={"requested_on": timezone.localdate()})
        return render_form(request, "protocol/new_person.html", form, {})
    form = NewPersonActivationForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                activation = activation_open_for_new_person(
                    actor=request.user, person=form.person_data(), **form.activation_data()
                )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                _("Se registró a la persona como %(code)s y su solicitud de ingreso al protocolo.")
                % {"code": activation.victim.code},
            )
            return redirect("protocol:victim_protocol", victim_id=activation.victim_id)
    return render_form(request, "protocol/new_person.html", form, {})


# --- bandeja de derivaciones ------------------------------------------------------------------


@require_GET
@login_required
@confidential
def referral_inbox_view(request):
    now = timezone.now()
    referrals = list(provider_inbox(user=request.user)[: PAGE_SIZE * 4])
    for referral in referrals:
        referral.overdue = referral.state == ReferralState.PENDING and referral.response_due_at < now
    return render(request, "protocol/referral_inbox.html", {"referrals": referrals})


def _referral_page(request, referral, *, status: int = 200):
    user = request.user
    officer = is_case_officer(user)
    is_provider = referral.provider_id == user.institution_id
    is_referrer = referral.activation.institution_id == user.institution_id
    moves = []
    if officer:
        for who, mine in ((PROVIDER, is_provider), (REFERRER, is_referrer)):
            if mine:
                moves += _actions(REFERRAL_TRANSITIONS, referral.state, ReferralAction, actor=who)
    context = {
        "referral": referral,
        "transitions": referral.transitions.select_related("actor", "institution"),
        "moves": moves,
        "is_provider": is_provider,
        "is_referrer": is_referrer,
        "overdue": referral.state == ReferralState.PENDING and referral.response_due_at < timezone.now(),
    }
    return render(request, "protocol/referral_detail.html", context, status=status)


@require_GET
@login_required
@confidential
def referral_detail_view(request, referral_id):
    return _referral_page(request, referral_get(user=request.user, referral_id=referral_id))


@require_POST
@login_required
@refused_input(labels=MOVE_LABELS)
def referral_transition_view(request, referral_id):
    referral = referral_get(user=request.user, referral_id=referral_id)
    referral_require_party(request.user, referral)
    referral = referral_transition(actor=request.user, referral_id=referral.pk, **_move(TransitionForm(request.POST)))
    messages.success(request, _("La derivación quedó «%(state)s».") % {"state": referral.get_state_display().lower()})
    if referral.provider_id == request.user.institution_id and not referral.is_open:
        # Closed, the referral is no longer the provider's to see: back to its bandeja.
        return redirect("protocol:referral_inbox")
    return redirect("protocol:referral_detail", referral_id=referral.pk)


@require_POST
@login_required
@confidential
def referral_person_view(request, referral_id):
    """The minimum data of the referred person, for the provider (audited, while open)."""
    referral = referral_get(user=request.user, referral_id=referral_id)
    data = referral_victim_for_provider(user=request.user, referral_id=referral.pk, ip_address=client_ip(request))
    data["sex"] = Sex(data["sex"]).label if data["sex"] in Sex.values else data["sex"]
    return _identity_page(
        request,
        _("Datos de la persona derivada"),
        identity_rows(Victim, data),
        back=(reverse("protocol:referral_detail", args=[referral.pk]), _("Volver a la derivación")),
    )


# --- Sermig: humanitarian residence ------------------------------------------------------------


@require_GET
@login_required
@confidential
def residence_queue_view(request):
    """Sermig's queue; for any other institution, the applications it derived."""
    sermig = has_sermig_capability(request.user)
    if sermig:
        applications = residence_queue(user=request.user)
    else:
        applications = (
            residence_visible(user=request.user)
            .select_related("victim", "derived_by_institution")
            .defer("permit_number", *(f"victim__{name}" for name in IDENTITY_FIELDS))
            .order_by("-derived_at")
        )
    applications = list(applications[: PAGE_SIZE * 4])
    open_ones = [a for a in applications if a.state in OPEN_RESIDENCE_STATES]
    decided = [a for a in applications if a.state not in OPEN_RESIDENCE_STATES]
    return render(
        request, "protocol/residence_queue.html", {"sermig": sermig, "open_ones": open_ones, "decided": decided}
    )


def _application_page(request, application, *, grant_form=None, status: int = 200):
    sermig_officer = is_sermig_officer(request.user)
    moves = []
    if sermig_officer:
        # Granting has a form of its own (permit number and validity).
        moves = [
            move
            for move in _actions(RESIDENCE_TRANSITIONS, application.state, ResidenceAction)
            if move["value"] != ResidenceAction.GRANT
        ]
    context = {
        "application": application,
        "transitions": application.transitions.select_related("actor", "institution"),
        "moves": moves,
        "sermig": has_sermig_capability(request.user),
        "sermig_officer": sermig_officer,
        "can_grant": sermig_officer and application.state in RESIDENCE_TRANSITIONS[ResidenceAction.GRANT][0],
        "grant_form": grant_form or ResidenceGrantForm(initial={"version": application.version}),
        "identity_readable": sermig_officer and application.state in (*OPEN_RESIDENCE_STATES, ResidenceState.GRANTED),
        "renewal_of": application.renews_id,
    }
    return render(request, "protocol/residence_detail.html", context, status=status)


@require_GET
@login_required
@confidential
def residence_detail_view(request, application_id):
    return _application_page(request, residence_get(user=request.user, application_id=application_id))


@require_POST
@login_required
@confidential
@refused_input(labels={**MOVE_LABELS, "action": gettext_lazy("Acción")})
def residence_transition_view(request, application_id):
    application = residence_get(user=request.user, application_id=application_id)
    residence_require_sermig_officer(request.user)
    if request.POST.get("action") == ResidenceAction.GRANT:
        form = ResidenceGrantForm(request.POST)
        if form.is_valid():
            try:
                application = residence_transition(
                    actor=request.user,
                    application_id=application.pk,
                    action=ResidenceAction.GRANT,
                    expected_version=form.cleaned_data["version"],
                    **form.values(("permit_number", "valid_from", "valid_until", "note")),
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Se otorgó el permiso de residencia."))
                return redirect("protocol:residence_detail", application_id=application.pk)
        return _application_page(request, application, grant_form=form, status=400)
    application = residence_transition(
        actor=request.user, application_id=application.pk, **_move(TransitionForm(request.POST))
    )
    messages.success(request, _("La solicitud quedó «%(state)s».") % {"state": application.get_state_display().lower()})
    return redirect("protocol:residence_detail", application_id=application.pk)


@require_POST
@login_required
@confidential
def residence_identity_view(request, application_id):
    """The identity the permit needs, for Sermig (audited)."""
    application = residence_get(user=request.user, application_id=application_id)
    identity = residence_identity_reveal(
        user=request.user, application_id=application.pk, ip_address=client_ip(request)
    )
    return _identity_page(
        request,
        _("Identidad para el permiso de residencia"),
        identity_rows(Victim, identity),
        back=(reverse("protocol:residence_detail", args=[application.pk]), _("Volver a la solicitud")),
    )


# --- notifications ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def notification_list_view(request):
    """The user's notices; a POST marks them all as read."""
    notices = notification_list(user=request.user)
    if request.method == "POST":
        notifications_mark_read(user=request.user)
        return redirect("protocol:notifications")
    return render(request, "protocol/notifications.html", {"notices": notices[: PAGE_SIZE * 2]})
