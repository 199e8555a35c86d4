"""System administrators configure the response deadline of each service (issue 6: "each
service type has a response deadline (configurable)"), and see nothing else of the protocol."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from protocol.constants import ServiceType
from protocol.models import ServiceDeadline
from tests.clients import VerifiedClient
from tests.factories import UserFactory
from tests.protocol.referral_helpers import ensure_service_deadlines

pytestmark = pytest.mark.django_db


def test_the_admin_registers_the_deadlines_and_no_record_of_a_victims_protocol():
    registered = {model.__name__ for model in admin.site._registry if model._meta.app_label == "protocol"}
    assert registered == {"ServiceDeadline"}


def test_a_superuser_changes_the_shelter_deadline_and_new_referrals_use_it():
    ensure_service_deadlines()
    superuser = UserFactory(institution=None, role="", is_staff=True, is_superuser=True)
    client = VerifiedClient()
    client.force_login(superuser)
    deadline = ServiceDeadline.objects.get(service_type=ServiceType.SHELTER)
    url = reverse("admin:protocol_servicedeadline_change", args=[deadline.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"response_hours": "12"}).status_code == 302
    assert ServiceDeadline.objects.get(pk=deadline.pk).response_hours == 12
    # Zero hours is refused by the database's rule, shown on the field; nothing changes.
    refused = client.post(url, {"response_hours": "0"})
    assert refused.status_code == 200 and ServiceDeadline.objects.get(pk=deadline.pk).response_hours == 12
    assert client.get(reverse("admin:protocol_servicedeadline_add")).status_code == 403
