"""Signals between apps that must not import each other (the shared kernel's only events)."""

from django.dispatch import Signal

# An institution's access to some victims was revoked (a case share revoked: cases.sharing; a
# share of a victim with no case revoked: victims.sharing). Sent inside the revoking transaction,
# with keyword arguments ``institution_id``, ``victim_ids`` (the victims concerned; the receiver
# checks which of them the institution still sees), ``actor`` and ``reason``. The Protocolo de
# Atención ends that institution's open activations of the victims it no longer sees
# (protocol.services.activations_end_for_lost_access): nobody else could manage them.
victim_access_revoked = Signal()
