"""Logins, logouts and failed logins go to the access log.

Connected to Django's auth signals in KernelConfig.ready(): they are the only hook Django gives
for these events (no business rule lives here, only the record).
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from kernel.audit import audit_record
from kernel.client_ip import client_ip
from kernel.constants import AccessAction


def _ip(request) -> str | None:
    return client_ip(request) if request is not None else None


def _logged_in(sender, request, user, **kwargs) -> None:
    audit_record(AccessAction.LOGIN, actor=user, ip_address=_ip(request))


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(AccessAction.LOGOUT, actor=user, ip_address=_ip(request))


def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in ``credentials``; keep only the username tried.
    # Attributed to the account's institution, if the account exists, so its administrator sees it.
    from institutions.models import User

    username = str(credentials.get("username", ""))[:150]
    institution_id = User.objects.filter(username=username).values_list("institution_id", flat=True).first()
    audit_record(
        AccessAction.LOGIN_FAILED,
        institution_id=institution_id,
        details={"username": username},
        ip_address=_ip(request),
    )


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="kernel.audit.login")
    user_logged_out.connect(_logged_out, dispatch_uid="kernel.audit.logout")
    user_login_failed.connect(_login_failed, dispatch_uid="kernel.audit.login_failed")
