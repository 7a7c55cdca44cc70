from django.views.generic import TemplateView

from .permissions import CapabilityRequiredMixin


class DashboardView(CapabilityRequiredMixin, TemplateView):
    template_name = "web/dashboard.html"
