from django.urls import NoReverseMatch, reverse

from agrega.core.roles import Capability, has_capability, user_role

from .navigation import MENU


def _visible(entries, user):
    out = []
    for entry in entries:
        if "children" in entry:
            children = _visible(entry["children"], user)
            if children:
                out.append({**entry, "children": children})
            continue
        if not has_capability(user, entry["capability"]):
            continue
        try:
            out.append({**entry, "url": reverse(entry["url_name"])})
        except NoReverseMatch:  # a page not built yet is simply not in the menu
            continue
    return out


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = user_role(user)
    return {
        "menu": _visible(MENU, user),
        "user_role": role,
        "user_role_label": role.label if role else "sem papel",
        "can_operate": has_capability(user, Capability.OPERATE),
        "can_configure": has_capability(user, Capability.CONFIGURE),
    }
