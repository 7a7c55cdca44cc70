"""Avisos ao cliente of one integration (administrador only): the texts per event with a
preview, and the latest notices written for its customers with their sending status."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.integrations.selectors import integration_get
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error

from . import selectors, services
from .forms import NoticeTextsForm, field_name, service_field_map
from .models import CustomerNotice, NoticeEvent
from .rendering import DEFAULTS, VARIABLES

RECENT = 30


def _integration_or_404(pk: int):
    integration = integration_get(pk)
    if integration is None:
        raise Http404("Integração SVA não encontrada.")
    return integration


class NoticeTextsView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE
    template_name = "notices/texts.html"

    def _render(self, integration, form, status=200):
        return render(self.request, self.template_name, {
            "integration": integration,
            "form": form,
            "variables": VARIABLES,
            "defaults": {event: {"subject": s, "body": b} for event, (s, b) in DEFAULTS.items()},
            "notices": list(selectors.notice_list(integration_id=integration.pk)[:RECENT]),
        }, status=status)

    def get(self, request, integration_pk):
        integration = _integration_or_404(integration_pk)
        texts = selectors.integration_texts(integration)
        return self._render(integration, NoticeTextsForm(initial=NoticeTextsForm.initial_for(texts)))

    def post(self, request, integration_pk):
        integration = _integration_or_404(integration_pk)
        form = NoticeTextsForm(request.POST)
        if form.is_valid():
            try:
                services.notice_texts_save(integration=integration, actor=request.user, **form.service_data())
            except ApplicationError as exc:
                apply_service_error(form, exc, service_field_map())
            else:
                messages.success(request, f"Avisos ao cliente de “{integration.name}” salvos.")
                return redirect("notices:texts", integration_pk=integration.pk)
        return self._render(integration, form, status=422)


class NoticePreviewView(CapabilityRequiredMixin, View):
    """htmx: one event's notice rendered with sample values (or why it cannot be)."""

    capability = Capability.CONFIGURE

    def post(self, request, integration_pk, event):
        integration = _integration_or_404(integration_pk)
        if event not in NoticeEvent.values:
            raise Http404("Evento desconhecido.")
        result = services.preview_notice(
            integration=integration, event=event,
            subject=request.POST.get(field_name(event, "subject"), ""),
            body=request.POST.get(field_name(event, "body"), ""),
            how_to_use=request.POST.get("how_to_use", ""),
        )
        return render(request, "notices/_preview.html", {"result": result, "event": event})


class NoticeRetryView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE

    def post(self, request, integration_pk, pk):
        notice = CustomerNotice.objects.filter(pk=pk, sva_user__integration_id=integration_pk).first()
        if notice is None:
            raise Http404("Aviso não encontrado.")
        try:
            services.notice_retry(notice=notice, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Aviso {notice.pk} volta para a fila de envio.")
        return redirect("notices:texts", integration_pk=integration_pk)
