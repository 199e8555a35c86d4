from django.apps import AppConfig


class ProtocolConfig(AppConfig):
    """Protocolo de Atención: activations, referrals, humanitarian residence (issue 6)."""

    name = "protocol"
    verbose_name = "Protocolo de Atención"

    def ready(self) -> None:
        from protocol import signals  # noqa: F401  (connects the receivers)
