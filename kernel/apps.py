from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class KernelConfig(AppConfig):
    name = "kernel"
    verbose_name = "Núcleo compartido"

    def ready(self) -> None:
        # Refuse to start without usable keys: better down than writing plaintext or garbage.
        from kernel.crypto.keyring import KeyRingError, check_key_material

        try:
            check_key_material()
        except KeyRingError as exc:
            raise ImproperlyConfigured(f"Encryption keys are not usable: {exc}") from None

        from kernel import auth_audit

        auth_audit.connect()
