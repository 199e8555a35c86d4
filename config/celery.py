"""The one Celery app. Tasks take ids, call a service, and are queued on commit."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("mitp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
