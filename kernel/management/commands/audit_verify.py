from django.core.management.base import BaseCommand, CommandError

from kernel.audit import audit_verify


class Command(BaseCommand):
    help = "Recompute the hash chain of the access log; exit non-zero naming the first broken event."

    def handle(self, *args, **options):
        checked, broken = audit_verify()
        if broken:
            raise CommandError(
                f"Access log chain broken at event {broken.event_id}: {broken.reason}. "
                f"{checked} events before it are intact."
            )
        self.stdout.write(self.style.SUCCESS(f"Access log intact: {checked} events verified."))
