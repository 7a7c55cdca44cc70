"""Every page states the capability it needs; views never check roles by hand."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

from agrega.core.roles import Capability, has_capability


class CapabilityRequiredMixin(LoginRequiredMixin):
    """``capability`` for GET/HEAD; ``action_capability`` for POST (defaults to the same)."""

    capability: str = Capability.VIEW
    action_capability: str | None = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        needed = self.capability
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            needed = self.action_capability or self.capability
        if not has_capability(request.user, needed):
            raise PermissionDenied("Seu papel não permite esta ação.")
        return super().dispatch(request, *args, **kwargs)
