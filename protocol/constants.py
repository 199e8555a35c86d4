from django.db import models
from django.utils.translation import gettext_lazy as _


class ActivationState(models.TextChoices):
    REQUESTED = "solicitada", _("Solicitada")
    EVALUATING = "en_evaluacion", _("En evaluación")
    ACTIVE = "activa", _("Activa")
    CLOSED = "cerrada", _("Cerrada")
    REJECTED = "rechazada", _("Rechazada")
    DECLINED = "desistida", _("Desistida")


# A victim has at most one activation in these states (a database constraint).
OPEN_STATES = (ActivationState.REQUESTED, ActivationState.EVALUATING, ActivationState.ACTIVE)


class RequestedBy(models.TextChoices):
    VICTIM = "victima", _("La víctima")
    THIRD_PARTY = "tercero", _("Un tercero en nombre de la víctima")
    INSTITUTION = "institucion", _("La institución que detectó el caso")


class ActivationAction(models.TextChoices):
    EVALUATE = "evaluar", _("Iniciar la evaluación")
    ACTIVATE = "activar", _("Activar el protocolo")
    REJECT = "rechazar", _("Rechazar la solicitud")
    DECLINE = "desistir", _("Registrar que la víctima desistió")
    CLOSE = "cerrar", _("Cerrar el protocolo")
    REACTIVATE = "reactivar", _("Reactivar el protocolo")


S, A = ActivationState, ActivationAction

# The state machine: action -> (states it may start from, state it leads to). The database
# holds the same pairs (protocol.models.ProtocolActivation's trigger).
ACTIVATION_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    A.EVALUATE: (frozenset({S.REQUESTED}), S.EVALUATING),
    A.ACTIVATE: (frozenset({S.EVALUATING}), S.ACTIVE),
    A.REJECT: (frozenset({S.REQUESTED, S.EVALUATING}), S.REJECTED),
    A.DECLINE: (frozenset({S.REQUESTED, S.EVALUATING, S.ACTIVE}), S.DECLINED),
    A.CLOSE: (frozenset({S.ACTIVE}), S.CLOSED),
    A.REACTIVATE: (frozenset({S.CLOSED}), S.ACTIVE),
}

# Moves that must say why (the reason is kept with the transition and on the activation).
ACTIONS_NEEDING_A_REASON = frozenset({A.REJECT, A.DECLINE, A.CLOSE})

ALLOWED_STATE_PAIRS = sorted({(start, end) for starts, end in ACTIVATION_TRANSITIONS.values() for start in starts})
