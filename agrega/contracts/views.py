"""Contrato pages (Sistema > Cadastros > Contrato): list, new, detail with the tabs
Produtos / SVA / Histórico, the status actions with their confirmation, and the rows
of the product lupa (the customer lupa is customers:picker). Views only read through selectors and write through services."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from agrega.billing.views import contract_tab_context as billing_tab_context
from agrega.catalog.selectors import product_list
from agrega.core.br import format_document
from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.customers.selectors import customer_get
from agrega.plans.services import contract_create_from_plan
from agrega.sva import selectors as sva_selectors
from agrega.sva.choices import SvaState, SyncStatus
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import lupa_field
from agrega.core.params import parse_id

from . import selectors, services
from .choices import AccessStatus, ContractAction, ContractStatus, ProductKind
from .filtersets import ContractFilterSet, ProductPickerFilterSet
from .forms import (ContractActionForm, ContractCreateForm, ContractFilterForm, ContractProductForm,
                    ProductPickerForm, apply_error)

PAGE_SIZE = 25
PICKER_SIZE = 20

# How each action is offered on the page (the rules themselves are services.TRANSITIONS).
# The confirmation after a transition, each in its own agreement ("Bloqueio manual
# registrado", "Inativação registrada"): a label + a fixed ending got the gender wrong.
ACTION_DONE = {
    ContractAction.ACTIVATE: "Ativação registrada.",
    ContractAction.BLOCK_MANUAL: "Bloqueio manual registrado.",
    ContractAction.BLOCK_AUTOMATIC: "Bloqueio automático registrado.",
    ContractAction.MARK_OVERDUE: "Financeiro em atraso registrado.",
    ContractAction.RELEASE: "Desbloqueio registrado.",
    ContractAction.DEACTIVATE: "Inativação registrada.",
    ContractAction.CANCEL: "Cancelamento registrado.",
    ContractAction.RESCIND: "Rescisão por débito registrada.",
}

ACTION_UI = {
    ContractAction.ACTIVATE: ("Ativar", "success", "check-circle"),
    ContractAction.RELEASE: ("Desbloquear", "success", "unlock"),
    ContractAction.BLOCK_MANUAL: ("Bloquear (bloqueio manual)", "warning", "lock"),
    ContractAction.BLOCK_AUTOMATIC: ("Bloqueio automático", "outline-warning", "lock"),
    ContractAction.MARK_OVERDUE: ("Financeiro em atraso", "outline-warning", "cash-coin"),
    ContractAction.DEACTIVATE: ("Inativar", "outline-danger", "pause-circle"),
    ContractAction.CANCEL: ("Cancelar", "danger", "x-circle"),
    ContractAction.RESCIND: ("Rescindir por débito (N)", "outline-danger", "x-octagon"),
}
ACTIONS_WITH_NOTE = {ContractAction.BLOCK_MANUAL}


def _contract_or_404(pk: int):
    contract = selectors.contract_get(pk)
    if contract is None:
        raise Http404("Contrato não encontrado.")
    return contract


def _actions(contract) -> list[dict]:
    order = list(ACTION_UI)
    rules = sorted(selectors.contract_actions(contract), key=lambda r: order.index(r.action))
    return [
        {"action": r.action, "label": ACTION_UI[r.action][0], "style": ACTION_UI[r.action][1],
         "icon": ACTION_UI[r.action][2]}
        for r in rules
    ]


def sva_rows(contract) -> list[dict]:
    """The contract's SVA users as the SVA tab shows them (removed ones left out)."""
    rows = []
    for user in sva_selectors.sva_user_list(contract_id=contract.pk):
        sync = sva_selectors.sync_status(user)
        values = sva_selectors.registration_values(user)
        desired = sva_selectors.desired_for(user)
        rows.append({
            "user": user,
            "product": user.contract_product.product,
            "email": values["email"],
            "desired": SvaState(desired.state).label,
            "desired_code": desired.state,
            "confirmed": SvaState(user.confirmed_state).label,
            "confirmed_code": user.confirmed_state,
            "sync": sync,
            "sync_label": SyncStatus(sync).label,
            "platform": user.integration.platform.upper(),
            "deleting": user.deleted_at is not None,
            # why the worker will not try again, or ""
            "stopped": sva_selectors.STOPPED_HINT if sva_selectors.retries_stopped(user) else "",
            "removal_at": sva_selectors.scheduled_removal_at(user),  # cancelled contract: retention
            "problems": sva_selectors.registration_problems_to_fix(user),
        })
    return rows


class ContractListView(CapabilityRequiredMixin, TemplateView):
    template_name = "contracts/list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = ContractFilterForm(self.request.GET or None)
        filters = form.cleaned_data if form.is_valid() else {}
        qs = ContractFilterSet({name: filters.get(name) for name in ("status", "access_status", "q")}).queryset()
        cursor = filters.get("cursor")
        if cursor:
            qs = qs.filter(pk__gt=cursor)
        rows = list(qs[: PAGE_SIZE + 1])  # keyset: no COUNT(*), no OFFSET
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        params = self.request.GET.copy()
        next_url = None
        if more:
            params["cursor"] = rows[-1].pk
            next_url = "?" + params.urlencode()
        first_params = self.request.GET.copy()
        first_params.pop("cursor", None)
        ctx.update(form=form, contracts=rows, next_url=next_url, is_first_page=not cursor,
                   first_url="?" + first_params.urlencode())
        return ctx


class ContractCreateView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    template_name = "contracts/create.html"

    def _render(self, form, customer=None):
        # The same label the customer lupa (customers:picker) puts in the field.
        label = f"{customer.name} — {format_document(customer.document)}" if customer else ""
        return render(self.request, self.template_name, {"form": form, "customer_label": label})

    def get(self, request):
        plan = request.GET.get("plano", "")  # "Novo contrato com este plano" (agrega.plans)
        plan_id = parse_id(plan)
        initial = {"sales_plan": plan_id} if plan_id else {}
        # "Novo contrato" on a customer's page: the customer comes filled in.
        customer_id = parse_id(request.GET.get("cliente", ""))
        customer = customer_get(customer_id) if customer_id else None
        if customer is not None:
            initial["customer"] = customer.pk
        return self._render(ContractCreateForm(initial=initial or None), customer)

    def post(self, request):
        form = ContractCreateForm(request.POST)
        customer = None
        if form.is_valid():
            customer = customer_get(form.cleaned_data["customer"])
            data = dict(customer_id=form.cleaned_data["customer"], billing_day=form.cleaned_data["billing_day"],
                        description=form.cleaned_data["description"], actor=request.user)
            plan_id = form.cleaned_data.get("sales_plan")
            try:
                if plan_id:  # Plano de venda: the plan's products fill the contract (agrega.plans)
                    contract = contract_create_from_plan(plan_id=plan_id, **data)
                else:
                    contract = services.contract_create(**data)
            except ApplicationError as exc:
                apply_error(form, exc, {"customer_id": "customer", "billing_day": "billing_day",
                                        "plan_id": "sales_plan"})
            else:
                with_plan = f" com os produtos do plano {contract.sales_plan.name}" if plan_id else ""
                messages.success(request, f"Contrato {contract.pk} criado (pré-contrato){with_plan}.")
                return HttpResponseRedirect(reverse("contracts:detail", args=[contract.pk]))
        elif parse_id(form.data.get("customer", "")):
            customer = customer_get(parse_id(form.data["customer"]))
        return self._render(form, customer)


def sva_tab_context(contract, products) -> dict:
    """What the SVA tab shows; ``sva_live`` while a user waits for the worker (the tab
    then asks for itself again: ContractSvaLiveView)."""
    rows = sva_rows(contract)
    return {
        "sva_products": [p for p in products if p.removed_at is None and p.kind == ProductKind.SVA],
        "sva_users": rows,
        "sva_waiting": _sva_waiting(contract, products),
        "sva_live": any(sva_selectors.is_live(r["sync"]) for r in rows),
    }


class ContractDetailView(CapabilityRequiredMixin, TemplateView):
    template_name = "contracts/detail.html"

    def get_context_data(self, pk, **kwargs):
        ctx = super().get_context_data(**kwargs)
        contract = _contract_or_404(pk)
        products = list(contract.products.all())
        ctx.update(
            contract=contract,
            products=products,
            actions=_actions(contract),
            events=_event_rows(contract),
            billing=billing_tab_context(contract),
            **sva_tab_context(contract, products),
        )
        return ctx


# htmx stops polling an element whose answer has this status (and still swaps it in).
STOP_POLLING = 286


class ContractSvaLiveView(CapabilityRequiredMixin, View):
    """The SVA tab alone, asked for every second by the page while a user is pending or
    retrying; once every user is settled the answer (status 286) ends the polling."""

    def get(self, request, pk):
        contract = _contract_or_404(pk)
        ctx = {"contract": contract, **sva_tab_context(contract, list(contract.products.all()))}
        return render(request, "sva/_contract_live.html", ctx,
                      status=200 if ctx["sva_live"] else STOP_POLLING)


def _event_rows(contract) -> list[dict]:
    status, access = dict(ContractStatus.choices), dict(AccessStatus.choices)
    kinds = dict(ProductKind.choices)

    def change(labels, before, after):
        def coded(code):
            return f"{code} — {labels[code]}" if code in labels else code
        return ("" if before == after else coded(before), coded(after))

    rows = []
    for event in selectors.contract_event_list(contract_id=contract.pk)[:200]:
        detail = event.detail or {}
        text = "; ".join(filter(None, [
            detail.get("product") and f"Produto: {detail['product']}",
            detail.get("kind") and f"tipo {kinds.get(detail['kind'], detail['kind'])}",
            detail.get("note") and f"Observação: {detail['note']}",
            detail.get("channel_label") and f"canal: {detail['channel_label']}",
            detail.get("evidence_ref") and f"evidência: {detail['evidence_ref']}",
            detail.get("reason") and f"Motivo: {detail['reason']}",
        ]))
        rows.append({
            "event": event,
            "status_change": change(status, event.from_status, event.to_status),
            "access_change": change(access, event.from_access_status, event.to_access_status),
            "detail": text,
        })
    return rows


def _sva_waiting(contract, products) -> list[dict]:
    """SVA products of the contract without a user yet, and why (for the SVA tab)."""
    with_user = {u.contract_product_id for u in contract.sva_users.all() if u.deleted_at is None}
    out = []
    for item in products:
        if item.removed_at is not None or item.kind != ProductKind.SVA or item.pk in with_user:
            continue
        integration = item.product.sva_integration
        if integration is None:
            continue
        if not integration.auto_create_users:
            why = "Integração sem criação automática: crie o usuário SVA pelo botão Novo."
        elif contract.status != ContractStatus.ACTIVE:
            why = "O usuário SVA será criado automaticamente na ativação do contrato."
        else:
            why = "Sem usuário SVA: crie-o pelo botão Novo."
        out.append({"item": item, "why": why})
    return out


class ContractActionView(CapabilityRequiredMixin, View):
    """GET: the confirmation (what happens to the contract and to each SVA user);
    POST: the action itself, through ``services.contract_transition``."""

    capability = Capability.OPERATE
    template_name = "contracts/action_confirm.html"

    def _rule(self, action):
        rule = services.TRANSITIONS.get(action)
        if rule is None:
            raise Http404("Ação desconhecida.")
        return rule

    def _render(self, contract, rule, form, error=None):
        to_status = rule.to_status or contract.status
        to_access = rule.to_access or contract.access_status
        effects = sva_selectors.sva_effects_of(contract, to_status=to_status, to_access_status=to_access)
        allowed = any(r.action == rule.action for r in selectors.contract_actions(contract))
        return render(self.request, self.template_name, {
            "contract": contract,
            "action": rule.action,
            "label": ACTION_UI[rule.action][0],
            "style": ACTION_UI[rule.action][1],
            "allowed": allowed,
            "refusal": rule.refusal,
            "to_status": to_status,
            "to_access": to_access,
            "to_status_label": ContractStatus(to_status).label,
            "to_access_label": AccessStatus(to_access).label,
            "effects": effects,
            "form": form,
            "with_note": rule.action in ACTIONS_WITH_NOTE,
            "error": error,
        })

    def get(self, request, pk, action):
        rule = self._rule(action)
        return self._render(_contract_or_404(pk), rule, ContractActionForm())

    def post(self, request, pk, action):
        rule = self._rule(action)
        contract = _contract_or_404(pk)
        form = ContractActionForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        try:
            services.contract_transition(contract=contract, action=rule.action, actor=request.user, note=note)
        except ApplicationError as exc:
            return self._render(_contract_or_404(pk), rule, form, error=exc.message)
        messages.success(
            request,
            f"{ACTION_DONE.get(rule.action, 'Ação registrada.')} Os usuários SVA ficam pendentes até a "
            "sincronização com a plataforma.",
        )
        return HttpResponseRedirect(reverse("contracts:detail", args=[pk]) + "#sva")


class ContractProductAddView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    template_name = "contracts/product_add.html"

    def _render(self, contract, form, product=None):
        return render(self.request, self.template_name, {"contract": contract, "form": form, "product": product})

    def get(self, request, pk):
        return self._render(_contract_or_404(pk), ContractProductForm())

    def post(self, request, pk):
        contract = _contract_or_404(pk)
        form = ContractProductForm(request.POST)
        product = None
        if parse_id(form.data.get("product", "")):
            product = product_list().filter(pk=parse_id(form.data["product"])).first()
        if form.is_valid():
            try:
                item = services.contract_add_product(
                    contract=contract, product_id=form.cleaned_data["product"],
                    kind=form.cleaned_data["kind"], price=form.cleaned_data["price"], actor=request.user,
                )
            except ApplicationError as exc:
                apply_error(form, exc, {"product_id": "product", "kind": "kind", "price": "price"})
            else:
                messages.success(request, f"Produto {item.product.name} incluído no contrato.")
                return HttpResponseRedirect(reverse("contracts:detail", args=[pk]) + "#produtos")
        return self._render(contract, form, product)


class ContractProductRemoveView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE
    template_name = "contracts/product_remove.html"

    def _item(self, contract, item_pk):
        item = next((p for p in contract.products.all() if p.pk == item_pk and p.removed_at is None), None)
        if item is None:
            raise Http404("Produto do contrato não encontrado.")
        return item

    def get(self, request, pk, item_pk):
        contract = _contract_or_404(pk)
        item = self._item(contract, item_pk)
        users = [u for u in sva_rows(contract) if u["user"].contract_product_id == item.pk]
        return render(request, self.template_name, {"contract": contract, "item": item, "sva_users": users})

    def post(self, request, pk, item_pk):
        contract = _contract_or_404(pk)
        try:
            item = services.contract_remove_product(contract=contract, contract_product_id=item_pk,
                                                    actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Produto {item.product.name} removido do contrato.")
        return HttpResponseRedirect(reverse("contracts:detail", args=[pk]) + "#produtos")


class ProductPickerView(CapabilityRequiredMixin, TemplateView):
    """Rows of the product lupa (web/_lupa_modal.html): active products; only SVA products
    when ``kind=SVA``. ``?field=`` is the id of the input that receives the chosen id."""

    template_name = "contracts/_product_picker.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # the search is the products list's (ProductPickerFilterSet: ProductFilterSet, only
        # active products, SVA ones for an SVA item); a refused value is said, no rows
        form = ProductPickerForm(self.request.GET)
        valid = form.is_valid()
        filters = form.filter_values if valid else {}
        products = list(ProductPickerFilterSet(filters).queryset()[:PICKER_SIZE]) if valid else []
        ctx.update(q=filters.get("q", ""), kind=filters.get("kind", ""), products=products,
                   errors=[e for errors in form.errors.values() for e in errors],
                   field=lupa_field(self.request, "id_product"))
        return ctx
