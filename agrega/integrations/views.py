"""Pages of Configurações > Integrações > Integrações SVA.

Everyone with VIEW sees the list; creating, editing and testing a connection need
CONFIGURE. Credentials only ever travel from the form to the service.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import TemplateView

from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.integrations.selectors import platform_labels, with_circuit_state
from agrega.core.web import apply_service_error, keyset_context

from . import selectors, services
from .connectors.registry import platform_allows
from .filtersets import IntegrationFilterSet
from .forms import CREDENTIAL_PREFIX, IntegrationFilterForm, IntegrationForm, service_field_map


def _get_integration(pk: int):
    integration = with_circuit_state(selectors.integration_list()).filter(pk=pk).first()
    if integration is None:
        raise Http404("Integração SVA não encontrada.")
    return integration


class IntegrationListView(CapabilityRequiredMixin, TemplateView):
    template_name = "integrations/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # the filter bar is IntegrationFilterSet's, as the API's parameters and the CLI's options
        form = IntegrationFilterForm(self.request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        context.update(keyset_context(self.request, with_circuit_state(IntegrationFilterSet(filters).queryset())))
        context.update(form=form, filtered=bool(filters))
        labels = platform_labels()
        for row in context["rows"]:
            row.platform_label = labels.get(row.platform, row.platform.upper())
            row.can_reconcile = platform_allows(row.platform, "list_users")  # the connector's declaration
        return context


class _IntegrationFormView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE
    template_name = "integrations/form.html"
    editing = False

    def render_form(self, form, integration=None, status=200):
        return render(self.request, self.template_name,
                      {"form": form, "integration": integration, "editing": self.editing,
                       "can_reconcile": integration is not None and platform_allows(integration.platform, "list_users")},
                      status=status)


class IntegrationCreateView(_IntegrationFormView):
    def get(self, request):
        return self.render_form(IntegrationForm())

    def post(self, request):
        form = IntegrationForm(request.POST)
        if form.is_valid():
            try:
                integration = services.integration_create(
                    credentials=form.credentials() or {}, actor=request.user, **form.service_data()
                )
            except ApplicationError as exc:
                apply_service_error(form, exc, service_field_map(form))
            else:
                messages.success(request, f"Integração “{integration.name}” cadastrada.")
                return redirect("integrations:list")
        return self.render_form(form, status=422)


class IntegrationEditView(_IntegrationFormView):
    editing = True

    def get(self, request, pk: int):
        integration = _get_integration(pk)
        initial = {
            "name": integration.name,
            "platform": integration.platform,
            "base_url": integration.base_url,
            "prefix": integration.prefix,
            "auto_create_users": "1" if integration.auto_create_users else "0",
            "requires_consent": integration.requires_consent,
            "reconcile_remove_unknown": integration.reconcile_remove_unknown,
            "active": integration.active,
            "timeout_seconds": integration.timeout_seconds,
            "rate_limit_rps": integration.rate_limit_rps,
        }
        return self.render_form(IntegrationForm(initial=initial, editing=True), integration)

    def post(self, request, pk: int):
        integration = _get_integration(pk)
        form = IntegrationForm(request.POST, editing=True)
        if form.is_valid():
            try:
                integration = services.integration_update(
                    integration=integration, credentials=form.credentials(), actor=request.user,
                    **form.service_data()
                )
            except ApplicationError as exc:
                apply_service_error(form, exc, service_field_map(form))
            else:
                messages.success(request, f"Integração “{integration.name}” salva.")
                return redirect("integrations:list")
        return self.render_form(form, _get_integration(pk), status=422)


class CredentialFieldsView(CapabilityRequiredMixin, View):
    """htmx: the credential fields of the platform chosen in the select."""

    capability = Capability.CONFIGURE

    def get(self, request):
        editing = request.GET.get("editing") == "1"
        form = IntegrationForm(platform=request.GET.get("platform", ""), editing=editing)
        return render(request, "integrations/_credential_fields.html", {"form": form, "editing": editing})


class IntegrationCheckView(CapabilityRequiredMixin, View):
    """Testar conexão (POST only). From the list: the saved platform, URL and credentials.
    From the edit form (htmx posts its fields): what is typed there, not yet saved — the
    service refuses to send the saved credentials to a URL or platform typed but not saved."""

    capability = Capability.CONFIGURE

    def post(self, request, pk: int):
        integration = _get_integration(pk)
        typed = {name[len(CREDENTIAL_PREFIX):]: value for name, value in request.POST.items()
                 if name.startswith(CREDENTIAL_PREFIX)}
        result = services.integration_check_credentials(
            integration=integration, platform=request.POST.get("platform") or None,
            base_url=(request.POST.get("base_url") or "").strip() or None, credentials=typed)
        if request.htmx:
            return render(request, "integrations/_check_result.html",
                          {"result": result, "integration": integration})
        level = messages.SUCCESS if result["ok"] else messages.ERROR
        messages.add_message(request, level, f"{integration.name}: {result['message']}")
        return redirect("integrations:list")
