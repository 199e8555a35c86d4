import pgtrigger
from django.db import models
from django.utils.translation import gettext_lazy as _

from kernel.constants import AccessAction


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        abstract = True


class AccessEvent(models.Model):
    """One entry of the append-only, hash-chained access log (kernel.audit).

    Who read identity, exported, shared, unshared, changed a consent, asked for access, logged
    in or out or failed to. Never holds identity: people appear by pseudonymous code. The
    database refuses UPDATE and DELETE on this table (trigger), and each row carries the hash
    of the previous one, so ``manage.py audit_verify`` can prove nothing was altered.
    """

    id = models.BigAutoField(primary_key=True)  # audit_record takes it from the sequence under the chain lock
    occurred_at = models.DateTimeField()
    action = models.CharField(max_length=40, choices=AccessAction.choices)
    actor_id = models.BigIntegerField(null=True)
    actor_username = models.CharField(max_length=150, blank=True)
    institution_id = models.BigIntegerField(null=True)
    client_id = models.CharField(max_length=100, blank=True)
    case_id = models.BigIntegerField(null=True)
    victim_code = models.CharField(max_length=20, blank=True)
    details = models.JSONField(default=dict)
    rests_on_legal_basis = models.BooleanField(default=False)
    ip_address = models.GenericIPAddressField(null=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("evento de acceso")
        verbose_name_plural = _("registro de accesos")
        default_permissions = ()
        ordering = ["id"]
        indexes = [
            models.Index(fields=["institution_id", "-id"], name="access_event_institution_idx"),
            models.Index(fields=["case_id", "-id"], name="access_event_case_idx"),
            # A case's historial reads the events of its victims by pseudonymous code.
            models.Index(
                fields=["victim_code", "-id"], name="access_event_victim_idx", condition=~models.Q(victim_code="")
            ),
        ]
        constraints = [
            models.CheckConstraint(name="access_event_action_valid", condition=models.Q(action__in=AccessAction.values))
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.action}"
