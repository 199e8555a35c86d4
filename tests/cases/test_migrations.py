"""Cases registered before object permissions existed get their lead's permissions on upgrade."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("cases", "0008_drop_duplicate_grant_index")]
AFTER = [("cases", "0009_grant_lead_permissions_to_existing_cases")]


@pytest.mark.django_db(transaction=True)
def test_upgrading_grants_every_existing_case_to_its_lead_institution():
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        Institution, Case = old.get_model("institutions", "Institution"), old.get_model("cases", "Case")
        pdi = Institution.objects.create(name="Policía de Investigaciones", short_name="PDI", kind="policia")
        fiscalia = Institution.objects.create(name="Fiscalía Nacional", short_name="FN", kind="fiscalia")
        cases = [
            Case.objects.create(intake_date=datetime.date(2020, 1, 1), lead_institution=lead)
            for lead in (pdi, pdi, fiscalia)
        ]

        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        Grant = new.get_model("cases", "CaseGroupObjectPermission")
        Institution = new.get_model("institutions", "Institution")
        for case in cases:
            group_id = Institution.objects.get(pk=case.lead_institution_id).group_id
            codenames = set(
                Grant.objects.filter(content_object_id=case.pk).values_list("permission__codename", flat=True)
            )
            assert codenames == {"view_case", "view_identity", "collaborate_case", "administer_case"}
            assert set(Grant.objects.filter(content_object_id=case.pk).values_list("group_id", flat=True)) == {group_id}
    finally:
        # Back to the latest state whatever happened: a test left on an old schema would fail
        # every later test of this process.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
