"""TOTP second factor (django-otp): enrollment and verification, as services.

Every human user has at most one TOTP device, named "principal". Enrollment creates it
unconfirmed; the first correct code confirms it. Resetting (an institutional administrator,
when a phone is lost) deletes it, so the next login enrolls again.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import segno
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from kernel.audit import audit_record
from kernel.constants import AccessAction

DEVICE_NAME = "principal"


@dataclass(frozen=True)
class Enrollment:
    device: TOTPDevice
    manual_key: str  # base32, grouped in fours, as authenticator apps accept it
    qr_svg: str  # inline <svg>: no script, no style attribute, so the strict CSP allows it


def enrollment_start(*, user) -> Enrollment:
    """The user's unconfirmed device (created on first call, reused on reload so the QR code
    the user may already have scanned stays valid)."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, name=DEVICE_NAME, defaults={"confirmed": False})
    if device.confirmed:
        raise ValueError("already enrolled")
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    manual_key = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=4, title="Código QR para la aplicación")
    return Enrollment(device=device, manual_key=manual_key, qr_svg=qr_svg)


def enrollment_confirm(*, request: HttpRequest, token: str) -> bool:
    """Confirms the device with its first code and verifies this session."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=request.user, confirmed=False).first()
        if device is None or not device.verify_token(_clean(token)):
            audit_record(AccessAction.LOGIN_FAILED, actor=request.user, details={"step": "totp_enrollment"})
            return False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(AccessAction.TWO_FACTOR_ENROLLED, actor=request.user)
    _session_opened(request, device)
    return True


def verify(*, request: HttpRequest, token: str) -> bool:
    """Verifies this session with a code from the user's confirmed device. The device throttles
    repeated failures itself (django-otp's ThrottlingMixin)."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None or not device.verify_token(_clean(token)):
        audit_record(AccessAction.LOGIN_FAILED, actor=request.user, details={"step": "totp"})
        return False
    audit_record(AccessAction.TWO_FACTOR_VERIFIED, actor=request.user)
    _session_opened(request, device)
    return True


def _session_opened(request: HttpRequest, device: TOTPDevice) -> None:
    """The session is verified; only now does the sign-in count as the user's last login
    (institutions.apps takes that write away from the password step), so a password guessed
    without the phone moves no "último ingreso" and no "desde su última visita"."""
    otp_login(request, device)
    request.user.last_login = timezone.now()
    request.user.save(update_fields=["last_login"])


def is_enrolled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def reset(*, user) -> int:
    """Deletes the user's devices: the next login enrolls a new one."""
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return deleted


def _clean(token: str) -> str:
    return "".join(ch for ch in (token or "") if ch.isdigit())[:8]
