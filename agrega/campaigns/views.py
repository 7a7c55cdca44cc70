"""Sistema > Campanhas SVA: new campaign with its preview, the campaign with a progress
bar (htmx polling), start / pause / resume / cancel, and the report of every contract
(page and CSV).

The campaign runs as a background task (``campaigns/tasks.py``, run by ``agrega worker``)
once started or resumed (docs/imports.md, "Campanhas SVA"); the periodic
``run_due_campaigns`` takes over if that process dies."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from agrega.core import csvio
from agrega.core.errors import ApplicationError, FieldErrors
from agrega.core.roles import Capability
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error, keyset_context

from agrega.core.tasks import actor_id

from . import report, selectors, services, tasks
from .filtersets import CampaignItemFilterSet, CampaignListFilterSet
from .forms import CampaignForm, CampaignListFilterForm
from .models import CampaignStatus, ItemStatus

FIELD_MAP = {"product_id": "product", "sales_plan_id": "sales_plan", "has_product_id": "has_product",
             "lacks_product_id": "lacks_product"}
LIST_SIZE = 100


def _campaign_or_404(pk: int):
    campaign = selectors.campaign_get(pk)
    if campaign is None:
        raise Http404("Campanha não encontrada.")
    return campaign


class CampaignListView(CapabilityRequiredMixin, TemplateView):
    template_name = "campaigns/list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # the filter bar is CampaignListFilterSet's, as the API's parameter and the CLI's option
        form = CampaignListFilterForm(self.request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        ctx.update(form=form, rows=list(CampaignListFilterSet(filters).queryset()[:LIST_SIZE]),
                   filtered=bool(filters))
        return ctx


class CampaignCreateView(CapabilityRequiredMixin, View):
    """"Prever" shows how many contracts the filters choose; "Salvar" creates the draft."""

    capability = Capability.OPERATE
    template_name = "campaigns/create.html"

    def get(self, request):
        return render(request, self.template_name, {"form": CampaignForm()})

    def post(self, request):
        form = CampaignForm(request.POST)
        preview = None
        if form.is_valid():
            data = form.cleaned_data
            try:
                if "preview" in request.POST:
                    preview = services.campaign_preview(product_id=data["product"].pk, filters=form.filters())
                else:
                    campaign = services.campaign_create(
                        name=data["name"], product_id=data["product"].pk, filters=form.filters(),
                        rate_per_second=data["rate_per_second"], actor=request.user)
                    messages.success(request, "Campanha criada como rascunho: confira a prévia e inicie.")
                    return HttpResponseRedirect(reverse("campaigns:detail", args=[campaign.pk]))
            except ApplicationError as exc:
                apply_service_error(form, exc, FIELD_MAP)
        return render(request, self.template_name, {"form": form, "preview": preview},
                      status=422 if form.errors else 200)


def _filter_labels(campaign) -> list[tuple[str, str]]:
    from agrega.catalog.models import Product
    from agrega.contracts.choices import AccessStatus, ContractStatus
    from agrega.plans.models import SalesPlan

    f = campaign.filters
    out = []
    if f.get("sales_plan_id"):
        plan = SalesPlan.objects.filter(pk=f["sales_plan_id"]).first()
        out.append(("Plano de venda", plan.name if plan else f"#{f['sales_plan_id']}"))
    if f.get("city"):
        out.append(("Cidade", f["city"]))
    if f.get("status"):
        out.append(("Status", f"{f['status']} — {dict(ContractStatus.choices).get(f['status'], '')}"))
    if f.get("access_status"):
        out.append(("Status de acesso", f"{f['access_status']} — {dict(AccessStatus.choices).get(f['access_status'], '')}"))
    for key, label in (("has_product_id", "Tem o produto"), ("lacks_product_id", "Não tem o produto")):
        if f.get(key):
            product = Product.objects.filter(pk=f[key]).first()
            out.append((label, product.name if product else f"#{f[key]}"))
    return out


class CampaignDetailView(CapabilityRequiredMixin, TemplateView):
    template_name = "campaigns/detail.html"

    def get_context_data(self, pk, **kwargs):
        ctx = super().get_context_data(**kwargs)
        campaign = _campaign_or_404(pk)
        ctx.update(campaign=campaign, filter_labels=_filter_labels(campaign),
                   running=campaign.status == CampaignStatus.RUNNING)
        if campaign.status == CampaignStatus.DRAFT:
            ctx["preview"] = selectors.campaign_preview(product=campaign.product, filters=campaign.filters)
        else:
            # the filter is CampaignItemFilterSet's, as in the API and the CLI; a refused
            # value is said in Portuguese and every contract is shown
            items = CampaignItemFilterSet({"status": self.request.GET.get("status")}, campaign_id=campaign.pk,
                                          strict=False)
            errors = FieldErrors()
            filters = items.clean_into(errors)
            ctx.update(keyset_context(self.request, items.apply(items.base(), filters), limit=100),
                       item_status=filters.get("status", ""),
                       item_filter_errors=[e.message for errs in errors.errors.values() for e in errs],
                       item_statuses=ItemStatus.choices,
                       reasons=[{**r, "status_label": dict(ItemStatus.choices)[r["status"]],
                                 "reason": services.reason_label(r["reason"])}
                                for r in selectors.campaign_reasons(campaign.pk)])
        return ctx


class CampaignProgressView(CapabilityRequiredMixin, View):
    def get(self, request, pk):
        campaign = _campaign_or_404(pk)
        if campaign.status != CampaignStatus.RUNNING:
            response = HttpResponse("")
            response["HX-Refresh"] = "true"
            return response
        return render(request, "campaigns/_progress.html", {"campaign": campaign, "running": True})


ACTIONS = {
    "iniciar": (services.campaign_start, True, "Campanha iniciada: os contratos são processados no ritmo configurado."),
    "pausar": (services.campaign_pause, False, "Campanha pausada depois do contrato em andamento."),
    "retomar": (services.campaign_resume, True, "Campanha retomada."),
    "cancelar": (services.campaign_cancel, False, "Campanha cancelada: os contratos pendentes não serão processados."),
}


class CampaignActionView(CapabilityRequiredMixin, View):
    capability = Capability.OPERATE

    def post(self, request, pk, action):
        if action not in ACTIONS:
            raise Http404
        service, runs, text = ACTIONS[action]
        campaign = _campaign_or_404(pk)
        try:
            service(campaign=campaign, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            if runs:
                tasks.run_campaign.enqueue(campaign_id=campaign.pk, actor_id=actor_id(request.user))
            messages.success(request, text)
        return HttpResponseRedirect(reverse("campaigns:detail", args=[campaign.pk]))


class CampaignReportCsvView(CapabilityRequiredMixin, View):
    def get(self, request, pk):
        campaign = _campaign_or_404(pk)

        writer = csvio.line_writer()

        def rows():
            yield "\ufeff" + writer.writerow(report.HEADER)
            for item in selectors.campaign_item_list(campaign_id=campaign.pk).iterator(chunk_size=2000):
                yield writer.writerow(report.row(item))

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campanha-{campaign.pk}.csv"'
        return response
