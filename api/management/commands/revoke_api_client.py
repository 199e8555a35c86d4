"""python manage.py revoke_api_client <client_id>: cuts a machine client off at once."""

from django.core.management.base import BaseCommand, CommandError

from api.models import ApiClient
from api.services import api_client_revoke


class Command(BaseCommand):
    help = "Revoca un cliente de la API: borra sus tokens y desactiva su usuario de servicio."

    def add_arguments(self, parser):
        parser.add_argument("client_id")

    def handle(self, *args, client_id, **options):
        client = ApiClient.objects.select_related("user").filter(client_id=client_id).first()
        if client is None:
            raise CommandError(f"No existe un cliente con client_id {client_id!r}.")
        api_client_revoke(client=client)
        self.stdout.write(f"Cliente {client.name} ({client_id}) revocado: sus tokens ya no sirven.")
