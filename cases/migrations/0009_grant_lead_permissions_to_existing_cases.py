from django.db import migrations

LEAD_PERMISSIONS = {
    "view_case": "Ver la causa",
    "view_identity": "Ver la identidad de víctimas e imputados",
    "collaborate_case": "Colaborar en la causa",
    "administer_case": "Administrar la causa (compartir, aprobar solicitudes)",
}


def grant_lead_permissions(apps, schema_editor):
    """Cases registered before object permissions existed get their lead's four permissions.

    Runs before post_migrate creates permission rows, so it creates them itself when missing.
    A fresh database has no cases: nothing to do.
    """
    Case = apps.get_model("cases", "Case")
    if not Case.objects.exists():
        return
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    Institution = apps.get_model("institutions", "Institution")
    Grant = apps.get_model("cases", "CaseGroupObjectPermission")

    case_type, _ = ContentType.objects.get_or_create(app_label="cases", model="case")
    permissions = [
        Permission.objects.get_or_create(content_type=case_type, codename=codename, defaults={"name": name})[0]
        for codename, name in LEAD_PERMISSIONS.items()
    ]
    for institution in Institution.objects.filter(group__isnull=True, led_cases__isnull=False).distinct():
        institution.group = Group.objects.create(name=f"institucion-{institution.pk}")
        institution.save(update_fields=["group"])
    group_of = dict(Institution.objects.filter(group__isnull=False).values_list("pk", "group_id"))
    existing = set(Grant.objects.values_list("group_id", "permission_id", "content_object_id"))
    missing = [
        Grant(group_id=group_of[lead_id], permission=permission, content_object_id=case_id)
        for case_id, lead_id in Case.objects.values_list("pk", "lead_institution_id").iterator()
        for permission in permissions
        if (group_of[lead_id], permission.pk, case_id) not in existing
    ]
    Grant.objects.bulk_create(missing, batch_size=5000)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_drop_duplicate_grant_index"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("institutions", "0002_institution_group"),
    ]

    operations = [migrations.RunPython(grant_lead_permissions, migrations.RunPython.noop)]
