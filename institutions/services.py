"""Writes of the institutional administrator's pages, and ending a user's sessions.

Each action runs under ``transaction.atomic``, locks the account it changes, checks its state and
the rules that keep an institution administrable (an administrator never deactivates themselves
nor drops their own role, so an institution is not left without one by accident), records the
access event, and refuses with a ``DomainError`` whose message is Spanish. Audit details carry
account ids and roles only: never a name, username or e-mail.
"""

from __future__ import annotations

from importlib import import_module

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from institutions import two_factor
from institutions.constants import Role
from institutions.models import User
from institutions.selectors import is_institution_admin
from kernel.audit import audit_record
from kernel.constants import AccessAction
from kernel.errors import DomainError

# --- sessions -----------------------------------------------------------------------------------


def user_sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """Deletes every stored session of ``user`` except ``keep_session_key``: signed out
    everywhere at once. Returns how many sessions ended.

    Django already refuses the session of a deactivated user (the backend's ``get_user`` rejects
    inactive users) and a session opened before a password change (the session auth hash); but
    the session itself survives, and would work again if the account were reactivated. Deleting
    it also covers what neither rule does: a second factor reset. The session table has no user
    column, so live sessions are decoded one by one: a few hundred rows for the MITP's users, on
    rare actions. Needs a database-backed session engine (``db`` or ``cached_db``), as configured;
    deleting through the store also clears ``cached_db``'s cache entry.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    live = store.get_model_class().objects.filter(expire_date__gt=timezone.now())
    ended = 0
    for key, data in live.values_list("session_key", "session_data").iterator():
        if key != keep_session_key and store().decode(data).get(SESSION_KEY) == str(user.pk):
            store(session_key=key).delete()
            ended += 1
    return ended


def user_password_changed(*, user: User, keep_session_key: str | None, via: str) -> int:
    """After a password is set (``via``: "cambio" by the user, "activacion" from an invitation):
    every other session of the user ends, and the change is audited."""
    ended = user_sessions_end(user=user, keep_session_key=keep_session_key)
    audit_record(AccessAction.PASSWORD_CHANGED, actor=user, details={"via": via, "sessions_ended": ended})
    return ended


# --- invitations --------------------------------------------------------------------------------


def invitation_message(*, member: User, base_url: str) -> EmailMessage:
    """The invitation e-mail: a one-time link to set a first password.

    The link carries Django's password-reset token, which hashes the account's password: it
    stops working once the password is set, or when a new invitation replaces the password
    placeholder. It expires after PASSWORD_RESET_TIMEOUT.
    """
    path = reverse(
        "institutions:account_activate",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(member.pk)),
            "token": default_token_generator.make_token(member),
        },
    )
    context = {
        "member": member,
        "institution": member.institution,
        "link": base_url.rstrip("/") + path,
        "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    subject = " ".join(render_to_string("institutions/email/invitation_subject.txt", context).split())
    body = render_to_string("institutions/email/invitation_body.txt", context)
    return EmailMessage(subject=subject, body=body, to=[member.email])


def _send_invitation(*, member: User, base_url: str) -> None:
    try:
        invitation_message(member=member, base_url=base_url).send()
    except OSError as exc:  # smtplib.SMTPException is an OSError
        raise DomainError(
            _("No se pudo enviar el correo de invitación. No se guardó ningún cambio; intente nuevamente más tarde."),
            code="mail_failed",
        ) from exc


def user_invite(
    *, actor: User, username: str, first_name: str, last_name: str, email: str, role: str, base_url: str
) -> User:
    """Creates an active member of the actor's institution without a usable password, and
    e-mails them a link to set one. The e-mail is built and sent inside the transaction: if it
    cannot be, no account is created.

    Field rules (format, uniqueness) are the form's (institutions.forms.UserInviteForm); a
    username taken meanwhile is refused here by the database.
    """
    _require_admin(actor)
    if role not in Role.values:
        raise DomainError(_("Elija un rol válido."), code="invalid_role")
    try:
        with transaction.atomic():
            member = User(
                username=username,
                first_name=first_name,
                last_name=last_name,
                email=email,
                role=role,
                institution_id=actor.institution_id,
                is_active=True,
            )
            member.set_unusable_password()
            member.save()
            member.institution = actor.institution
            audit_record(AccessAction.USER_INVITED, actor=actor, details={"user_id": member.pk, "role": role})
            _send_invitation(member=member, base_url=base_url)
    except IntegrityError as exc:
        raise DomainError(_("Ya existe un usuario con ese nombre de usuario."), code="username_taken") from exc
    return member


def user_invitation_resend(*, actor: User, user_id: int, base_url: str) -> User:
    """A new invitation for a member who has not set a password yet. A new password placeholder
    makes every earlier link stop working."""
    with transaction.atomic():
        member = _member_for_update(actor=actor, user_id=user_id)
        if member.has_usable_password():
            raise DomainError(_("Este usuario ya creó su contraseña: no necesita una invitación."), code="activated")
        if not member.is_active:
            raise DomainError(_("La cuenta está desactivada. Reactívela antes de reenviar la invitación."))
        member.set_unusable_password()
        member.save(update_fields=["password"])
        audit_record(
            AccessAction.USER_INVITED, actor=actor, details={"user_id": member.pk, "role": member.role, "resent": True}
        )
        _send_invitation(member=member, base_url=base_url)
    return member


# --- changes to a member ------------------------------------------------------------------------


def user_role_change(*, actor: User, user_id: int, role: str) -> User:
    if role not in Role.values:
        raise DomainError(_("Elija un rol válido."), code="invalid_role")
    with transaction.atomic():
        member = _member_for_update(actor=actor, user_id=user_id)
        if member.pk == actor.pk and role != Role.INSTITUTION_ADMIN:
            raise DomainError(
                _(
                    "No puede quitarse a sí mismo el rol de administrador: pídaselo a otro administrador "
                    "de su institución, para que la institución no quede sin administrador."
                ),
                code="own_admin_role",
            )
        if member.role == role:
            raise DomainError(_("El usuario ya tiene ese rol."), code="same_role")
        previous = member.role
        member.role = role
        member.save(update_fields=["role"])
        audit_record(
            AccessAction.USER_ROLE_CHANGED,
            actor=actor,
            details={"user_id": member.pk, "previous_role": previous, "role": role},
        )
    return member


def user_deactivate(*, actor: User, user_id: int) -> User:
    """The member can no longer sign in, and every open session of theirs ends now."""
    with transaction.atomic():
        member = _member_for_update(actor=actor, user_id=user_id)
        if member.pk == actor.pk:
            raise DomainError(
                _(
                    "No puede desactivar su propia cuenta: pídaselo a otro administrador de su institución, "
                    "para que la institución no quede sin administrador."
                ),
                code="own_account",
            )
        if not member.is_active:
            raise DomainError(_("La cuenta ya está desactivada."), code="already_inactive")
        member.is_active = False
        member.save(update_fields=["is_active"])
        ended = user_sessions_end(user=member)
        audit_record(
            AccessAction.USER_DEACTIVATED, actor=actor, details={"user_id": member.pk, "sessions_ended": ended}
        )
    return member


def user_reactivate(*, actor: User, user_id: int) -> User:
    with transaction.atomic():
        member = _member_for_update(actor=actor, user_id=user_id)
        if member.is_active:
            raise DomainError(_("La cuenta ya está activa."), code="already_active")
        member.is_active = True
        member.save(update_fields=["is_active"])
        audit_record(AccessAction.USER_REACTIVATED, actor=actor, details={"user_id": member.pk})
    return member


def user_two_factor_reset(*, actor: User, user_id: int) -> User:
    """Deletes the member's TOTP device (a lost phone): the next login enrolls a new one.

    Every session of the member ends too. django-otp would stop counting a session as verified
    once its device is gone (OTPMiddleware finds no device and drops it from the session), but
    such a session would then be sent to enrollment, and whoever holds it could enroll a device
    of their own without knowing the password. Refused on one's own account for the same
    reason: another administrator does it.
    """
    with transaction.atomic():
        member = _member_for_update(actor=actor, user_id=user_id)
        if member.pk == actor.pk:
            raise DomainError(
                _("No puede restablecer su propio segundo factor: pídaselo a otro administrador de su institución."),
                code="own_account",
            )
        devices = two_factor.reset(user=member)
        ended = user_sessions_end(user=member)
        audit_record(
            AccessAction.TWO_FACTOR_RESET,
            actor=actor,
            details={"user_id": member.pk, "devices_deleted": devices, "sessions_ended": ended},
        )
    return member


def user_unlock(*, actor: User, user_id: int) -> int:
    """Clears django-axes' failed attempts for the member's username, from every IP address: the
    lock ends now instead of after the cool-off. Returns how many attempt records were cleared."""
    with transaction.atomic():
        member = _member_for_update(actor=actor, user_id=user_id)
        cleared = axes_reset(username=member.username)
        audit_record(
            AccessAction.USER_UNLOCKED, actor=actor, details={"user_id": member.pk, "attempts_cleared": cleared}
        )
    return cleared


# --- guards -------------------------------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if not is_institution_admin(actor):
        raise DomainError(_("Solo un administrador institucional puede administrar usuarios."), code="not_admin")


def _member_for_update(*, actor: User, user_id: int) -> User:
    """The member, locked; only of the actor's own institution."""
    _require_admin(actor)
    member = User.objects.select_for_update().filter(pk=user_id, institution_id=actor.institution_id).first()
    if member is None:
        raise DomainError(_("El usuario no existe en su institución."), code="not_found")
    if member.is_staff or member.is_superuser:
        raise DomainError(
            _("Esta es una cuenta de administración del sistema: se gestiona en la administración del sistema."),
            code="system_account",
        )
    return member
