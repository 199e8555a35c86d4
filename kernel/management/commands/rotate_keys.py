from django.core.management.base import BaseCommand

from kernel.crypto.keyring import get_keyring
from kernel.crypto.rotation import count_stale_values, models_with_encrypted_fields, rotate_model


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value under the newest key of FIELD_ENCRYPTION_KEYS. "
        "Batches commit one by one: safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per transaction (default 1000)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be re-encrypted, change nothing")

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1")
            raise SystemExit(2)
        version = get_keyring().current_version
        self.stdout.write(f"Target key version: {version}{' (dry run)' if dry_run else ''}")
        total_values = 0
        for model, fields in models_with_encrypted_fields():
            report = rotate_model(
                model,
                fields,
                batch_size=batch_size,
                dry_run=dry_run,
                progress=lambda r: self.stdout.write(f"  {r.model}: {r.rows_rewritten} rows so far"),
            )
            by_version = ", ".join(f"v{v}: {n}" for v, n in sorted(report.values_by_old_version.items())) or "none"
            remaining = count_stale_values(model, fields)
            self.stdout.write(
                f"{report.model}: {report.rows_rewritten} rows, {report.values_rewritten} values "
                f"{'to re-encrypt' if dry_run else 're-encrypted'} (from {by_version}); "
                f"{remaining} values not on v{version}"
            )
            total_values += report.values_rewritten
        self.stdout.write(
            self.style.SUCCESS(f"Done: {total_values} values {'to re-encrypt' if dry_run else 're-encrypted'}.")
        )
