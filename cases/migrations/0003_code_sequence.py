from django.db import migrations


class Migration(migrations.Migration):
    """The sequence behind pseudonymous codes (kernel.pseudonyms)."""

    dependencies = [("cases", "0002_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS cases_offender_code_seq START 1",
            reverse_sql="DROP SEQUENCE IF EXISTS cases_offender_code_seq",
        )
    ]
