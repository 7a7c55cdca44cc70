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
    }


# htmx stops polling an element whose answer has this status (and still swaps it in).
STOP_POLLING = 286


class DashboardLiveView(CapabilityRequiredMixin, View):
    """Início's counts, problems and platforms alone, asked for every second while any
    user is pending or retrying; the answer once none is (status 286) ends the polling."""

    def get(self, request):
        context = dashboard_context()
        return render(request, "web/_dashboard_live.html", context,
                      status=200 if context["live"] else STOP_POLLING)
