"""What the protocol does when other apps tell it something (connected in ProtocolConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver

from kernel.signals import victim_access_revoked
from protocol.services import activations_end_for_lost_access


@receiver(victim_access_revoked, dispatch_uid="protocol-end-activations-for-lost-access")
def end_activations_for_lost_access(sender, *, institution_id, victim_ids, actor, reason="", **kwargs) -> None:
    activations_end_for_lost_access(actor=actor, institution_id=institution_id, victim_ids=victim_ids, reason=reason)
