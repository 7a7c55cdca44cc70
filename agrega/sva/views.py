"""Usuário SVA pages: manual creation from a contract, one user's detail and timeline,
"Sincronizar agora" and deletion. Views read through selectors and write through
services; platform calls happen only in the worker."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from agrega.contracts.choices import ProductKind
from agrega.contracts.selectors import contract_get
from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import safe_next

from . import selectors, services
from .choices import SvaState, SyncStatus, operation_label
from .forms import SvaUserCreateForm

FIELD_MAP = {
    "integration_id": "integration",
    "contract_product_id": "contract_product",
    "email": "email",
    "phone": "phone",
    "mobile_phone": "phone",
    "document": "document",
}


def _user_or_404(pk: int):
    user = selectors.sva_user_get(pk)
    if user is None:
        raise Http404("Usuário SVA não encontrado.")
    return user


def _contract_url(user) -> str:
    return reverse("contracts:detail", args=[user.contract_id]) + "#sva"


class SvaUserCreateView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    template_name = "sva/create.html"

    def _setup(self, contract_pk):
        contract = contract_get(contract_pk)
        if contract is None:
            raise Http404("Contrato não encontrado.")
        items = [p for p in contract.products.all()
                 if p.removed_at is None and p.kind == ProductKind.SVA and p.product.sva_integration_id]
        integrations = {}
        for item in items:
            integrations.setdefault(item.product.sva_integration_id, item.product.sva_integration)
        return contract, items, list(integrations.values())

    def _form(self, items, integrations, data=None):
        initial = {"use_customer_data": "sim"}
        if items:
            preferred = next((i for i in items if not i.sva_users.exists()), items[0])
            initial.update(contract_product=preferred.pk, integration=preferred.product.sva_integration_id)
        return SvaUserCreateForm(data, initial=initial, integrations=integrations, contract_products=items)

    def _render(self, contract, items, form):
        customer = contract.customer
        return render(self.request, self.template_name, {
            "contract": contract,
            "customer": customer,
            "items": items,
            "form": form,
            "use_customer": form.uses_customer_data,
            "customer_values": selectors.customer_registration_values(customer),
            "customer_problems": selectors.customer_registration_problems(customer),
        })

    def get(self, request, contract_pk):
        contract, items, integrations = self._setup(contract_pk)
        return self._render(contract, items, self._form(items, integrations))

    def post(self, request, contract_pk):
        contract, items, integrations = self._setup(contract_pk)
        form = self._form(items, integrations, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.sva_user_create(
                    contract_id=contract.pk,
                    integration_id=data["integration"],
                    contract_product_id=data["contract_product"],
                    use_customer_data=data["use_customer_data"] == "sim",
                    email=data["email"], phone=data["phone"], document=data["document"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                for name, errors in exc.fields.items():
                    target = FIELD_MAP.get(name)
                    for error in errors:
                        if target:
                            form.add_error(target, error.message)
            else:
                messages.success(
                    request,
                    f"Usuário SVA de {user.contract_product.product.name} criado: pendente até a "
                    "sincronização com a plataforma.",
                )
                return HttpResponseRedirect(_contract_url(user))
        return self._render(contract, items, form)


def _state_context(user) -> dict:
    """What sva/_detail_state.html shows of one user; ``live`` while it waits for the worker."""
    sync = selectors.sync_status(user)
    return dict(
        sva_user=user,
        contract=user.contract,
        sync_label=SyncStatus(sync).label,
        sync=sync,
        live=selectors.is_live(sync),
        desired_label=SvaState(selectors.desired_for(user).state).label,
        confirmed_label=SvaState(user.confirmed_state).label,
        values=selectors.registration_values(user),
        stopped=selectors.retries_stopped(user),
        stopped_hint=selectors.STOPPED_HINT,
        removal_at=selectors.scheduled_removal_at(user),
        problems=selectors.registration_problems_to_fix(user),
    )


class SvaUserDetailView(CapabilityRequiredMixin, TemplateView):
    template_name = "sva/detail.html"

    def get_context_data(self, pk, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(_state_context(_user_or_404(pk)))
        return ctx


# htmx stops polling an element whose answer has this status (and still swaps it in).
STOP_POLLING = 286


class SvaUserStateView(CapabilityRequiredMixin, View):
    """The state block of the user's page alone, asked for every second while the user is
    pending or retrying; a settled user's answer (status 286) ends the polling."""

    def get(self, request, pk):
        ctx = _state_context(_user_or_404(pk))
        return render(request, "sva/_detail_state.html", ctx, status=200 if ctx["live"] else STOP_POLLING)


def _call_error(call) -> str:
    """The operator's words for a failed call: the connector's message kept in the answer's
    summary; older calls without one get a generic sentence (the code stays in API and CLI)."""
    if not call.error_code:
        return ""
    message = call.response.get("message") if isinstance(call.response, dict) else None
    if isinstance(message, str) and message:
        return message
    status = f" (HTTP {call.status_code})" if call.status_code else ""
    return f"A plataforma não atendeu a esta chamada{status}."


class SvaUserTimelineView(CapabilityRequiredMixin, TemplateView):
    """The platform calls of one user, newest first (htmx partial, loaded on demand)."""

    template_name = "sva/_timeline.html"

    def get_context_data(self, pk, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = _user_or_404(pk)
        calls = [
            {
                "call": call,
                "operation": operation_label(call.operation),
                "error": _call_error(call),
                "request": json.dumps(call.request, indent=2, ensure_ascii=False),
                "response": json.dumps(call.response, indent=2, ensure_ascii=False),
            }
            for call in selectors.sva_user_timeline(user)
        ]
        ctx.update(sva_user=user, calls=calls)
        return ctx


class SvaUserSyncView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE

    def post(self, request, pk):
        user = _user_or_404(pk)
        services.sva_user_request_sync(sva_user=user)
        messages.info(request, "Sincronização solicitada: o usuário SVA será conferido com a plataforma agora.")
        return HttpResponseRedirect(safe_next(request, _contract_url(user)))


class SvaUserDeleteView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    template_name = "sva/delete.html"

    def get(self, request, pk):
        user = _user_or_404(pk)
        if user.deleted_at is not None:
            messages.info(request, "Este usuário SVA já foi excluído.")
            return HttpResponseRedirect(_contract_url(user))
        return render(request, self.template_name, {
            "sva_user": user, "contract": user.contract, "values": selectors.registration_values(user),
            "platform": user.integration.platform.upper(),
        })

    def post(self, request, pk):
        user = _user_or_404(pk)
        try:
            services.sva_user_delete(sva_user=user, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"Usuário SVA excluído do Agrega; a remoção na {user.integration.platform.upper()} "
                "acontece na sincronização.",
            )
        return HttpResponseRedirect(_contract_url(user))
