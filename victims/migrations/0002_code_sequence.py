from django.db import migrations


class Migration(migrations.Migration):
    """The sequence behind pseudonymous codes (kernel.pseudonyms)."""

    dependencies = [("victims", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS victims_victim_code_seq START 1",
            reverse_sql="DROP SEQUENCE IF EXISTS victims_victim_code_seq",
        )
    ]
