"""The dashboard (the pages shell's own view); the helpers page modules share are in
``agrega.core.web``."""

from __future__ import annotations

from django.shortcuts import render
from django.views import View
from django.views.generic import TemplateView

from agrega.core.permissions import CapabilityRequiredMixin

from . import selectors


class DashboardView(CapabilityRequiredMixin, TemplateView):
    """Início: SVA users by state, the platforms' health and the latest problems."""

    template_name = "web/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(dashboard_context())
        return context


def dashboard_context() -> dict:
    counts = selectors.sva_user_counts()
    return {
        "counts": counts,
        "integrations": selectors.integration_health(),
        "problems": selectors.latest_sva_problems(limit=15),
        "live": counts["pending"] > 0,  # the page asks again while users wait for the worker
        "pix_cert_expiring": pix_cert_expiring(),
        "fiscal_cert_warning": fiscal_cert_warning(),
    }


def pix_cert_expiring() -> list:
    """PSP accounts whose mTLS certificate expires within 30 days (agrega/pix)."""
    from agrega.pix.services import cert_expiring

    return cert_expiring()


def fiscal_cert_warning() -> str:
    """The NFCom emitter's A1 certificate, warned 30 days ahead (agrega/fiscal)."""
    from agrega.fiscal.selectors import certificate_warning

    return certificate_warning()


# htmx stops polling an element whose answer has this status (and still swaps it in).
STOP_POLLING = 286


class DashboardLiveView(CapabilityRequiredMixin, View):
    """Início's counts, problems and platforms alone, asked for every second while any
    user is pending or retrying; the answer once none is (status 286) ends the polling."""

    def get(self, request):
        context = dashboard_context()
        return render(request, "web/_dashboard_live.html", context,
                      status=200 if context["live"] else STOP_POLLING)


class TaskListView(CapabilityRequiredMixin, TemplateView):
    """Sistema > Tarefas: the most recent background tasks (agrega/core/tasks.py)."""

    template_name = "web/tasks.html"

    def get_context_data(self, **kwargs):
        from agrega.core.tasks import task_data, task_list

        return {**super().get_context_data(**kwargs), "tasks": [task_data(r) for r in task_list(limit=100)]}


class TaskDetailView(CapabilityRequiredMixin, View):
    """One task: its status, attempts, result and a link to what it works on; while it is
    queued or running htmx polls the partial (``?parcial=1``) every second."""

    def get(self, request, task_id):
        from django.http import Http404

        from agrega.core.tasks import task_data, task_get

        row = task_get(task_id)
        if row is None:
            raise Http404("Tarefa não encontrada.")
        context = {"task": task_data(row), "active": row.status in ("READY", "RUNNING")}
        if request.GET.get("parcial"):
            return render(request, "web/_task_state.html", context)
        return render(request, "web/task.html", context)
