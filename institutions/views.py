"""The institutional administrator's pages: the users of my institution.

Thin: parse input, call one selector or service, render. Only institutional administrators
reach these pages (403 with a Spanish message for anyone else, staff included); a user id of
another institution answers 404, exactly like an id that does not exist. Every change is a POST
with the CSRF token; the ones that cannot be undone by the next click (deactivating, resetting
the second factor) go through a confirmation page first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from institutions import services
from institutions.forms import UserInviteForm, UserRoleForm
from institutions.models import User
from institutions.selectors import institution_member_get, institution_members, is_institution_admin
from kernel.errors import DomainError
from kernel.web import confidential, refused_page

PAGE_SIZE = 50


def institution_admin_required(view: Callable) -> Callable:
    """Signed in, and an administrator of an institution: anyone else gets 403 before any user
    is looked up, so the answer never depends on which ids exist."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_institution_admin(request.user):
            message = _("Solo los administradores institucionales pueden administrar los usuarios de su institución.")
            return refused_page(request, message, status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _name(member: User) -> str:
    return member.get_full_name() or member.username


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@require_GET
@institution_admin_required
@confidential
def user_list_view(request):
    page = Paginator(institution_members(user=request.user), PAGE_SIZE).get_page(request.GET.get("pagina"))
    return render(request, "institutions/user_list.html", {"page": page})


@require_http_methods(["GET", "POST"])
@institution_admin_required
@confidential
def user_invite_view(request):
    form = UserInviteForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                member = services.user_invite(actor=request.user, base_url=_base_url(request), **form.cleaned_data)
            except DomainError as exc:
                form.add_error("username" if exc.code == "username_taken" else None, exc.message)
                status = 409
            else:
                messages.success(
                    request,
                    _("Se invitó a %(name)s. Recibirá en %(email)s un enlace para crear su contraseña.")
                    % {"name": _name(member), "email": member.email},
                )
                return redirect("institutions:user_detail", user_id=member.pk)
    return render(request, "institutions/user_invite.html", {"form": form}, status=status)


def _detail(request: HttpRequest, member: User, *, role_form: UserRoleForm | None = None, status: int = 200):
    context = {
        "member": member,
        "is_self": member.pk == request.user.pk,
        "role_form": role_form or UserRoleForm(initial={"role": member.role}),
    }
    return render(request, "institutions/user_detail.html", context, status=status)


@require_GET
@institution_admin_required
@confidential
def user_detail_view(request, user_id: int):
    return _detail(request, institution_member_get(user=request.user, user_id=user_id))


@require_POST
@institution_admin_required
@confidential
def user_role_view(request, user_id: int):
    member = institution_member_get(user=request.user, user_id=user_id)
    form = UserRoleForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            member = services.user_role_change(actor=request.user, user_id=member.pk, role=form.cleaned_data["role"])
        except DomainError as exc:
            form.add_error("role", exc.message)
            status = 409
        else:
            messages.success(
                request,
                _("%(name)s ahora tiene el rol «%(role)s».")
                % {"name": _name(member), "role": member.get_role_display()},
            )
            return redirect("institutions:user_detail", user_id=member.pk)
    return _detail(request, member, role_form=form, status=status)


def _act(request: HttpRequest, user_id: int, service: Callable[..., object], success: str, **arguments) -> HttpResponse:
    """Runs one button's service on the member, ``service(actor=..., user_id=..., **arguments)``:
    back to the member's page with ``success`` (filled in with their ``%(name)s`` and
    ``%(email)s``), or the page again with the Spanish reason of the refusal (409)."""
    member = institution_member_get(user=request.user, user_id=user_id)
    try:
        service(actor=request.user, user_id=member.pk, **arguments)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _detail(request, member, status=409)
    messages.success(request, success % {"name": _name(member), "email": member.email})
    return redirect("institutions:user_detail", user_id=member.pk)


def _confirm_then_act(
    request: HttpRequest, user_id: int, service: Callable[..., object], success: str, *, title: str, explanation: str
) -> HttpResponse:
    """For what the next click cannot undo: GET asks for confirmation on a page whose button
    repeats its ``title`` (filled in with the member's ``%(name)s``); the POST it sends acts."""
    if request.method == "POST":
        return _act(request, user_id, service, success)
    member = institution_member_get(user=request.user, user_id=user_id)
    title = title % {"name": _name(member)}
    context = {
        "member": member,
        "title": title,
        "explanation": explanation,
        "button": title,
        "action_url": request.path,
    }
    return render(request, "institutions/user_confirm.html", context)


@require_http_methods(["GET", "POST"])
@institution_admin_required
@confidential
def user_deactivate_view(request, user_id: int):
    return _confirm_then_act(
        request,
        user_id,
        services.user_deactivate,
        _("Se desactivó la cuenta de %(name)s. Sus sesiones abiertas se cerraron."),
        title=_("Desactivar la cuenta de %(name)s"),
        explanation=_(
            "No podrá volver a ingresar y todas sus sesiones abiertas se cerrarán de inmediato. "
            "Su historial se conserva; puede reactivar la cuenta más adelante."
        ),
    )


@require_POST
@institution_admin_required
@confidential
def user_reactivate_view(request, user_id: int):
    return _act(
        request,
        user_id,
        services.user_reactivate,
        _("Se reactivó la cuenta de %(name)s: puede volver a ingresar."),
    )


@require_http_methods(["GET", "POST"])
@institution_admin_required
@confidential
def user_two_factor_reset_view(request, user_id: int):
    return _confirm_then_act(
        request,
        user_id,
        services.user_two_factor_reset,
        _(
            "Se restableció el segundo factor de %(name)s. Sus sesiones se cerraron; "
            "en su próximo ingreso deberá configurar uno nuevo."
        ),
        title=_("Restablecer el segundo factor de %(name)s"),
        explanation=_(
            "Use esta opción si perdió o cambió su teléfono. Su aplicación de autenticación actual dejará "
            "de servir, todas sus sesiones abiertas se cerrarán y en su próximo ingreso deberá configurar "
            "el segundo factor de nuevo."
        ),
    )


@require_POST
@institution_admin_required
@confidential
def user_unlock_view(request, user_id: int):
    return _act(
        request,
        user_id,
        services.user_unlock,
        _("Se desbloqueó la cuenta de %(name)s: puede volver a intentar el ingreso."),
    )


@require_POST
@institution_admin_required
@confidential
def user_invitation_resend_view(request, user_id: int):
    return _act(
        request,
        user_id,
        services.user_invitation_resend,
        _("Se envió una nueva invitación a %(email)s. Los enlaces enviados antes dejaron de funcionar."),
        base_url=_base_url(request),
    )
