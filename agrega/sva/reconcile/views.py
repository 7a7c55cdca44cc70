"""Configurações > Integrações SVA > (integração) > Reconciliação: run a reconciliation
now (administrador), the list of runs and one run's report. Rules live in
``agrega/sva/reconcile/services.py``; these views only read and call it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability
from agrega.integrations.selectors import integration_get, platform_labels
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import PAGE_SIZE, keyset_context
from agrega.core.params import parse_id

from agrega.sva.filtersets import ReconciliationItemFilterSet, ReconciliationRunFilterSet
from agrega.sva.forms import ReconciliationItemFilterForm, ReconciliationRunFilterForm
from agrega.sva.tasks import queue_reconciliation

from . import services as reconcile

# The counts shown as columns in the list of runs.
LIST_COUNTS = ("remote_users", "differences", "marked_for_sync", "already_pending", "removed", "reported")


def _integration_or_404(pk: int):
    integration = integration_get(pk)
    if integration is None:
        raise Http404("Integração SVA não encontrada.")
    return integration


def _newest_first(request, queryset, *, limit: int = PAGE_SIZE) -> dict:
    """Runs newest first by ``?antes=<id>`` (keyset, no COUNT); the filters ride along."""
    before = parse_id(request.GET.get("antes", ""), minimum=0)
    if before is not None:
        queryset = queryset.filter(pk__lt=before)
    rows = list(queryset.order_by("-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    params = {k: v for k, v in request.GET.items() if k != "antes" and v != ""}
    return {
        "rows": rows,
        "next_url": "?" + urlencode({**params, "antes": rows[-1].pk}) if more and rows else "",
        "first_url": "?" + urlencode(params) if before is not None else "",
    }


class ReconciliationListView(CapabilityRequiredMixin, TemplateView):
    """GET: the runs of one integration; POST (CONFIGURE): reconcile now."""

    template_name = "sva/reconcile/list.html"
    action_capability = Capability.CONFIGURE

    def get_context_data(self, pk, **kwargs):
        context = super().get_context_data(**kwargs)
        integration = _integration_or_404(pk)
        # the filter bar is ReconciliationRunFilterSet's (the integration is the page's), as
        # the API's parameters and the CLI's options; a refused value is said next to its field
        form = ReconciliationRunFilterForm(self.request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        runs = ReconciliationRunFilterSet({**filters, "integration_id": integration.pk}).queryset()
        context.update(_newest_first(self.request, runs), form=form, filtered=bool(filters))
        for run in context["rows"]:
            run.shown_counts = [int(run.counts.get(key, 0)) for key in LIST_COUNTS]
        job = settings.PERIODIC_JOBS.get("sva.reconcile", {})
        every = job.get("every_seconds")
        context.update(integration=integration, every_minutes=round(every / 60) if every else None,
                       supported=reconcile.reconcile_supported(integration),
                       not_supported_message=reconcile.NOT_SUPPORTED_MESSAGE,
                       platform_label=platform_labels().get(integration.platform, integration.platform))
        return context

    def post(self, request, pk):
        integration = _integration_or_404(pk)
        list_url = reverse("reconcile:list", args=[pk])
        try:
            result = queue_reconciliation(
                integration, runner=f"web:{request.user.get_username()}"[:100], actor=request.user,
                remove_unknown=request.POST.get("remove_unknown") == "1",
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(list_url)
        # listed and compared by the task worker: the task's page follows it and, when it
        # ends, links to the report
        messages.info(request, "Reconciliação na fila: acompanhe aqui; o relatório aparece ao terminar.")
        return HttpResponseRedirect(reverse("web:task", args=[str(result.id)]))


class ReconciliationDetailView(CapabilityRequiredMixin, TemplateView):
    """One run: who ran it, its counts, and each difference with what was done."""

    template_name = "sva/reconcile/detail.html"

    def get_context_data(self, pk, run_pk, **kwargs):
        context = super().get_context_data(**kwargs)
        integration = _integration_or_404(pk)
        run = reconcile.reconciliation_run_get(run_pk)
        if run is None or run.integration_id != integration.pk:
            raise Http404("Reconciliação não encontrada.")
        # the filter bar is ReconciliationItemFilterSet's, as the API's and the CLI's; a link
        # from before (``?diferenca=``) still filters by the difference
        params = self.request.GET.copy()
        if params.get("diferenca") and not params.get("kind"):
            params["kind"] = params["diferenca"]
        params.pop("diferenca", None)
        form = ReconciliationItemFilterForm(params or None)
        filters = form.filter_values if form.is_valid() else {}
        items = ReconciliationItemFilterSet(filters, run_id=run.pk).queryset().select_related("sva_user")
        context.update(keyset_context(self.request, items))
        context.update(
            integration=integration, run=run, form=form, filtered=bool(filters),
            counts=[(key, label, value) for key, label, value in reconcile.count_rows(run)
                    if value or key in ("remote_users", "differences")],
        )
        return context
