"""The edit page of a person in a case, an offender (cases.form_views) or a victim
(victims.form_views): one flow, so both pages behave alike.

- GET: the statistical fields and the person's part in the case; identity is not shown.
- POST ``accion=mostrar_identidad``: the same form with the identity filled in. Showing it is a
  reveal, audited by the ``reveal`` the view passes.
- POST of the form: one update service writes (ValidationError back onto the fields, 400,
  nothing saved). Identity fields are taken only from a form that showed them
  (``con_identidad=1``); the service still refuses them to whoever may not write them.
- A stale version answers 409: the current values (identity too, revealed again, if the officer
  was editing it) and the officer's own changes beside them; nothing is overwritten.

The view keeps what differs: who may (permission, identity access), which person, how identity
is revealed, and which service writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from cases.forms import PersonInCaseForm
from cases.services import ConcurrentUpdateError
from kernel.forms import REVEAL_ACTION, WITH_IDENTITY, render_conflict, render_form


@dataclass(frozen=True)
class PersonEditPage:
    """What one kind of person's edit page is made of."""

    # The link's attribute holding the person ("offender", "victim"), also the page's context key.
    person: str
    # The edit form: a PersonInCaseForm with a ``version`` field.
    form_class: type[PersonInCaseForm]
    template: str
    # The form's initial values for a link (its person selected), identity left out.
    initial: Callable[[models.Model], dict]
    # "…%(code)s…": shown after saving, with the person's pseudonymous code.
    saved_message: str
    # The case tab the officer goes back to after saving.
    done_url: str

    def respond(
        self,
        request: HttpRequest,
        *,
        link: models.Model,
        context: dict,
        reveal: Callable[[], dict],
        update: Callable[..., object],
    ) -> HttpResponse:
        """The answer to a GET or POST of the page for ``link`` (the person's part in the case,
        with the person selected). ``reveal()`` returns the identity, audited; ``update`` is
        the service with its actor and ids bound, taking ``expected_version``, ``data`` and
        ``link_data``."""
        if request.method == "GET":
            return render_form(
                request, self.template, self.form_class(identity=False, initial=self.initial(link)), context
            )
        if request.POST.get("accion") == REVEAL_ACTION:
            form = self.form_class(identity=True, initial={**self.initial(link), **reveal()})
            return render_form(request, self.template, form, context)

        with_identity = request.POST.get(WITH_IDENTITY) == "1"
        form = self.form_class(request.POST, identity=with_identity)
        if form.is_valid():
            try:
                update(
                    expected_version=form.cleaned_data["version"], data=form.person_data(), link_data=form.link_data()
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except ConcurrentUpdateError as conflict:
                current_link = type(link).objects.select_related(self.person).get(pk=link.pk)
                current = {**self.initial(current_link), **(reveal() if with_identity else {})}
                return render_conflict(
                    request,
                    self.template,
                    form=self.form_class(identity=with_identity, initial=current),
                    message=conflict.message,
                    submitted={**form.person_data(), **form.link_data()},
                    current=current,
                    context={**context, self.person: getattr(current_link, self.person)},
                )
            else:
                messages.success(request, self.saved_message % {"code": getattr(link, self.person).code})
                return redirect(self.done_url, case_id=link.case_id)
        return render_form(request, self.template, form, context)
