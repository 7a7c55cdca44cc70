"""Pages of Configurações > Régua de cobrança: the réguas with their stages, creating one
from a preset, editing stages and trust-release limits, choosing the default (CONFIGURE),
and applying the régua now (OPERATE). Everyone with VIEW sees them."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from agrega.billing import selectors as billing_selectors
from agrega.core.errors import ApplicationError, NotFound
from agrega.core.roles import Capability, has_capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error

from . import selectors, services
from .forms import PolicyForm, PresetForm, StageFormSet, TrustReleaseForm, stage_rows
from .presets import ANATEL_STAGES
from .tasks import queue_sweep


def _policy_or_404(pk: int):
    try:
        return selectors.policy_get(pk)
    except NotFound:
        raise Http404("Régua de cobrança não encontrada.") from None


def _list_page(request, preset_form=None, status=200):
    last = selectors.last_manual_sweep()
    return render(request, "dunning/list.html", {
        "policies": list(selectors.policy_list()),
        "preset_form": preset_form or PresetForm(),
        "anatel_days": [d for d, _ in ANATEL_STAGES],
        "last_sweep": last,
        "last_sweep_day": date.fromisoformat(last.object_id) if last else None,
        "can_sweep": has_capability(request.user, Capability.OPERATE),
    }, status=status)


class PolicyListView(CapabilityRequiredMixin, View):
    def get(self, request):
        return _list_page(request)


class PolicyCreateView(CapabilityRequiredMixin, View):
    """Criar a partir de um modelo (the form lives on the list page)."""

    capability = Capability.CONFIGURE

    def get(self, request):
        return redirect("dunning:list")

    def post(self, request):
        form = PresetForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            days = data["block_after_days"] if data["preset"] == "simples" else None
            try:
                policy = services.policy_create(preset=data["preset"], name=data["name"],
                                              make_default=data["make_default"], block_after_days=days,
                                              actor=request.user)
            except ApplicationError as exc:
                apply_service_error(form, exc)
            else:
                messages.success(request, f"Régua “{policy.name}” criada.")
                return redirect("dunning:list")
        return _list_page(request, form, status=422)


class PolicyEditView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE
    template_name = "dunning/edit.html"

    def _render(self, policy, form, formset, errors=(), status=200):
        return render(self.request, self.template_name,
                      {"policy": policy, "form": form, "formset": formset, "errors": list(errors)}, status=status)

    def get(self, request, pk: int):
        policy = _policy_or_404(pk)
        form = PolicyForm(initial={"name": policy.name, "trust_release_days": policy.trust_release_days,
                                   "trust_release_max_uses": policy.trust_release_max_uses,
                                   "trust_release_period_days": policy.trust_release_period_days,
                                   **{f: getattr(policy, f) for f in PolicyForm.CHARGE_INITIAL}})
        formset = StageFormSet(initial=[{"days_after_due": s.days_after_due, "action": s.action}
                                        for s in policy.stages.all()])
        return self._render(policy, form, formset)

    def post(self, request, pk: int):
        policy = _policy_or_404(pk)
        form = PolicyForm(request.POST)
        if "add" in request.POST:
            data = request.POST.copy()
            data["form-TOTAL_FORMS"] = str(int(data.get("form-TOTAL_FORMS") or 0) + 1)
            return self._render(policy, form, StageFormSet(data))
        formset = StageFormSet(request.POST)
        form_ok, formset_ok = form.is_valid(), formset.is_valid()
        if not (form_ok and formset_ok):
            return self._render(policy, form, formset, ["Corrija os campos destacados. Nada foi salvo."], status=422)
        rows = stage_rows(formset)
        try:
            policy = services.policy_edit(policy_id=pk, stages=[row for _, row in rows], actor=request.user,
                                        **form.cleaned_data)
        except ApplicationError as exc:
            loose = _show_errors(form, formset, rows, exc)
            return self._render(policy, form, formset, loose or [exc.message], status=422)
        messages.success(request, f"Régua “{policy.name}” salva.")
        return redirect("dunning:list")


def _show_errors(form, formset, rows, exc: ApplicationError) -> list[str]:
    """``stages.2.days_after_due`` goes on the second kept row; policy fields on the form."""
    loose = []
    for name, errors in exc.fields.items():
        parts = name.split(".")
        for error in errors:
            if len(parts) == 3 and parts[0] == "stages" and parts[1].isdigit() and 0 < int(parts[1]) <= len(rows):
                formset.forms[rows[int(parts[1]) - 1][0]].add_error(parts[2], error.message)
            elif name in form.fields:
                form.add_error(name, error.message)
            else:
                loose.append(error.message)
    if exc.code != "validation_failed":
        loose.append(exc.message)
    return loose


class PolicyDefaultView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE

    def post(self, request, pk: int):
        _policy_or_404(pk)
        try:
            policy = services.policy_update(policy_id=pk, is_default=True, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"“{policy.name}” é agora a régua padrão.")
        return redirect("dunning:list")


class SweepView(CapabilityRequiredMixin, View):
    """Aplicar a régua agora (the daily job does the same every day)."""

    capability = Capability.OPERATE

    def post(self, request):
        try:
            result = queue_sweep(actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("dunning:list")
        # applied by the task worker: the task's page follows it and shows the counts
        messages.info(request, "Régua na fila: acompanhe aqui; as contagens aparecem ao terminar.")
        return HttpResponseRedirect(reverse("web:task", args=[str(result.id)]))


def _contract_or_404(pk: int):
    contract = billing_selectors.contract_for_billing(pk)
    if contract is None:
        raise Http404("Contrato não encontrado.")
    return contract


# ---------------------------------------------------------------- Desbloqueio de confiança

class TrustReleaseView(CapabilityRequiredMixin, View):
    """Financeiro > Desbloqueio de confiança of one contract (its button is on the
    contract's Financeiro tab)."""

    capability = Capability.OPERATE
    template_name = "dunning/trust_release.html"

    def _render(self, contract, form, error=None, status=200):
        summary = billing_selectors.contract_billing(contract)
        # a hint for the browser only; the limit itself is checked by the service
        form.fields["days"].widget.attrs["max"] = summary.trust.max_days
        return render(self.request, self.template_name, {
            "contract": contract, "summary": summary, "trust": summary.trust, "form": form, "error": error,
        }, status=status)

    def get(self, request, pk):
        contract = _contract_or_404(pk)
        summary = billing_selectors.contract_billing(contract)
        return self._render(contract, TrustReleaseForm(initial={"days": summary.trust.max_days}))

    def post(self, request, pk):
        contract = _contract_or_404(pk)
        form = TrustReleaseForm(request.POST)
        if form.is_valid():
            try:
                release = services.trust_release(contract_id=pk, days=form.cleaned_data["days"], actor=request.user,
                                                 note=form.cleaned_data["note"])
            except ApplicationError as exc:
                if exc.code == "trust_days_invalid":
                    form.add_error("days", exc.message)
                    return self._render(contract, form, status=422)
                return self._render(_contract_or_404(pk), form, error=exc.message, status=409)
            messages.success(
                request,
                f"Desbloqueio de confiança concedido: acesso liberado até "
                f"{timezone.localtime(release.ends_at):%d/%m/%Y %H:%M}. Os usuários SVA seguem na sincronização.",
            )
            return HttpResponseRedirect(reverse("contracts:detail", args=[pk]) + "#financeiro")
        return self._render(contract, form, status=422)
