"""A test client whose ``force_login`` also passes the TOTP second factor.

Views are behind RequireTwoFactorMiddleware; tests about a page's own behaviour sign in as a
fully verified user. The second-factor flow itself is tested through the real forms
(tests/institutions/test_login_and_two_factor.py) and in the browser (tests/e2e).
"""

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from institutions.two_factor import DEVICE_NAME


def verified_device(user) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, name=DEVICE_NAME, defaults={"confirmed": True})
    return device


class VerifiedClient(Client):
    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = verified_device(user).persistent_id
        session.save()
