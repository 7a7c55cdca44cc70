"""Pages of Sistema > Cadastros > Planos de Venda: list, detail, form with the item rows
(produto + valor), deletion; and the htmx preview of a plan's products on the new-contract
page. VIEW sees; CONFIGURE creates and edits (plans are commercial configuration)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error, keyset_context
from agrega.core.params import parse_id

from . import selectors, services
from .filtersets import PlanFilterSet
from .forms import ItemRows, PlanFilterForm, PlanForm


def _plan_or_404(pk: int):
    plan = selectors.plan_get(pk)
    if plan is None:
        raise Http404("Plano de venda não encontrado.")
    return plan


def _item_rows(plan) -> list[dict]:
    return [{"item": i, "price": selectors.item_price(i), "own_price": i.price is None} for i in plan.items.all()]


class PlanListView(CapabilityRequiredMixin, TemplateView):
    template_name = "plans/list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # the filter bar is PlanFilterSet's, as the API's parameters and the CLI's options
        form = PlanFilterForm(self.request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        ctx.update(keyset_context(self.request, PlanFilterSet(filters).queryset()))
        for plan in ctx["rows"]:
            plan.total = selectors.plan_total(plan)
        ctx.update(form=form, filtered=bool(filters), q=filters.get("q", ""))
        return ctx


class PlanDetailView(CapabilityRequiredMixin, TemplateView):
    template_name = "plans/detail.html"

    def get_context_data(self, pk, **kwargs):
        ctx = super().get_context_data(**kwargs)
        plan = _plan_or_404(pk)
        ctx.update(plan=plan, items=_item_rows(plan), total=selectors.plan_total(plan),
                   contracts=plan.contracts.count())
        return ctx


class _PlanFormView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE
    template_name = "plans/form.html"
    plan = None

    def render_form(self, form, rows: ItemRows, status=200):
        return render(self.request, self.template_name, {
            "form": form, "plan": self.plan, "rows": rows.for_template(),
            "product_groups": selectors.plan_product_choices(),
        }, status=status)

    def save(self, form, rows):
        """Call the plan service with the form's data and rows; return the plan."""
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        form = PlanForm(request.POST)
        rows = ItemRows(request.POST)
        if form.is_valid():
            try:
                plan = self.save(form, rows)
            except ApplicationError as exc:
                rows.apply_error(exc)  # items.N.* next to their row; the rest on the form
                plain = {k: v for k, v in exc.fields.items() if not k.startswith("items.")}
                apply_service_error(form, ApplicationError(exc.code, exc.message, fields=plain))
                return self.render_form(form, rows, status=422)
            messages.success(request, f"Plano de venda “{plan.name}” salvo.")
            return redirect("plans:detail", plan.pk)
        return self.render_form(form, rows, status=422)


class PlanCreateView(_PlanFormView):
    def get(self, request):
        return self.render_form(PlanForm(), ItemRows())

    def save(self, form, rows):
        return services.plan_create(**form.cleaned_data, items=rows.items, actor=self.request.user)


class PlanEditView(_PlanFormView):
    def get(self, request, pk):
        self.plan = _plan_or_404(pk)
        form = PlanForm(initial={"name": self.plan.name, "description": self.plan.description,
                                 "active": self.plan.active})
        return self.render_form(form, ItemRows(plan=self.plan))

    def post(self, request, pk):
        self.plan = _plan_or_404(pk)
        return super().post(request)

    def save(self, form, rows):
        return services.plan_update(plan=self.plan, items=rows.items, actor=self.request.user, **form.cleaned_data)


class PlanDeleteView(CapabilityRequiredMixin, View):
    capability = Capability.CONFIGURE

    def get(self, request, pk):
        plan = _plan_or_404(pk)
        return render(request, "plans/delete.html", {"plan": plan, "contracts": plan.contracts.count()})

    def post(self, request, pk):
        plan = _plan_or_404(pk)
        try:
            services.plan_delete(plan=plan, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("plans:detail", args=[pk]))
        messages.success(request, f"Plano de venda “{plan.name}” excluído.")
        return redirect("plans:list")


class PlanItemsPreviewView(CapabilityRequiredMixin, TemplateView):
    """htmx: the products a plan puts in a new contract (``?sales_plan=ID``)."""

    template_name = "plans/_items_preview.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        plan_id = parse_id(self.request.GET.get("sales_plan", ""))
        plan = selectors.plan_get(plan_id) if plan_id else None
        if plan is not None:
            ctx.update(plan=plan, items=_item_rows(plan), total=selectors.plan_total(plan))
        return ctx
