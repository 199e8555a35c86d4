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


class ServiceType(models.TextChoices):
    HEALTH = "salud", _("Salud")
    MENTAL_HEALTH = "salud_mental", _("Salud mental")
    SHELTER = "casa_acogida", _("Casa de acogida")
    LEGAL_AID = "asistencia_juridica", _("Asistencia jurídica")
    MIGRATION = "regularizacion_migratoria", _("Regularización migratoria")
    EDUCATION = "educacion", _("Educación")
    WORK = "reinsercion", _("Reinserción laboral o social")
    RETURN = "retorno", _("Retorno o repatriación")
    OTHER = "otro", _("Otro servicio")


# Hours a provider has to answer a referral, until an administrator changes them
# (protocol.models.ServiceDeadline). Shelter cannot wait.
DEFAULT_RESPONSE_HOURS = {
    ServiceType.SHELTER: 24,
    ServiceType.HEALTH: 72,
    ServiceType.MENTAL_HEALTH: 120,
    ServiceType.LEGAL_AID: 120,
    ServiceType.MIGRATION: 240,
    ServiceType.EDUCATION: 240,
    ServiceType.WORK: 240,
    ServiceType.RETURN: 168,
    ServiceType.OTHER: 168,
}


class ReferralState(models.TextChoices):
    PENDING = "pendiente", _("Pendiente")
    ACCEPTED = "aceptada", _("Aceptada")
    REJECTED = "rechazada", _("Rechazada")
    IN_PROGRESS = "en_curso", _("En curso")
    COMPLETED = "completada", _("Completada")
    CANCELLED = "cancelada", _("Cancelada")


OPEN_REFERRAL_STATES = (ReferralState.PENDING, ReferralState.ACCEPTED, ReferralState.IN_PROGRESS)


class ReferralAction(models.TextChoices):
    ACCEPT = "aceptar", _("Aceptar la derivación")
    REJECT = "rechazar", _("Rechazar la derivación")
    START = "iniciar", _("Registrar la primera atención")
    COMPLETE = "completar", _("Completar la derivación")
    CANCEL = "cancelar", _("Cancelar la derivación")


R, RA = ReferralState, ReferralAction

# action -> (states it may start from, state it leads to, who acts: the provider or the
# institution that referred).
PROVIDER, REFERRER = "provider", "referrer"
REFERRAL_TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    RA.ACCEPT: (frozenset({R.PENDING}), R.ACCEPTED, PROVIDER),
    RA.REJECT: (frozenset({R.PENDING}), R.REJECTED, PROVIDER),
    RA.START: (frozenset({R.ACCEPTED}), R.IN_PROGRESS, PROVIDER),
    RA.COMPLETE: (frozenset({R.IN_PROGRESS}), R.COMPLETED, PROVIDER),
    RA.CANCEL: (frozenset({R.PENDING, R.ACCEPTED, R.IN_PROGRESS}), R.CANCELLED, REFERRER),
}
REFERRAL_ACTIONS_NEEDING_A_REASON = frozenset({RA.REJECT, RA.CANCEL})
ALLOWED_REFERRAL_STATE_PAIRS = sorted(
    {(start, end) for starts, end, _who in REFERRAL_TRANSITIONS.values() for start in starts}
)


class ResidenceState(models.TextChoices):
    DERIVED = "derivada", _("Derivada a Sermig")
    RECEIVED = "recibida", _("Recibida")
    PROCESSING = "en_tramite", _("En trámite")
    GRANTED = "otorgada", _("Otorgada")
    REJECTED = "rechazada", _("Rechazada")


OPEN_RESIDENCE_STATES = (ResidenceState.DERIVED, ResidenceState.RECEIVED, ResidenceState.PROCESSING)


class ResidenceAction(models.TextChoices):
    RECEIVE = "recibir", _("Registrar la recepción")
    PROCESS = "tramitar", _("Iniciar el trámite")
    GRANT = "otorgar", _("Otorgar el permiso")
    REJECT = "rechazar", _("Rechazar la solicitud")


RS, RSA = ResidenceState, ResidenceAction
RESIDENCE_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    RSA.RECEIVE: (frozenset({RS.DERIVED}), RS.RECEIVED),
    RSA.PROCESS: (frozenset({RS.RECEIVED}), RS.PROCESSING),
    RSA.GRANT: (frozenset({RS.PROCESSING}), RS.GRANTED),
    RSA.REJECT: (frozenset({RS.RECEIVED, RS.PROCESSING}), RS.REJECTED),
}
ALLOWED_RESIDENCE_STATE_PAIRS = sorted({(s, end) for starts, end in RESIDENCE_TRANSITIONS.values() for s in starts})

# Days before a permit's end when the deriving institution and Sermig are reminded to renew it.
RESIDENCE_REMINDER_DAYS = 60
