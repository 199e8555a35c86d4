"""The default response deadline of each service type (administrators may change them)."""

from django.db import migrations

from protocol.constants import DEFAULT_RESPONSE_HOURS


def seed(apps, schema_editor):
    ServiceDeadline = apps.get_model("protocol", "ServiceDeadline")
    for service_type, hours in DEFAULT_RESPONSE_HOURS.items():
        ServiceDeadline.objects.get_or_create(service_type=service_type, defaults={"response_hours": hours})


class Migration(migrations.Migration):
    dependencies = [("protocol", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
