"""``{% nfcom_section invoice %}``: the NFCom block of the título page (no change to
the billing view: the section reads its own data)."""

from django import template
from django.utils import timezone

from agrega.core.roles import Capability, has_capability

from .. import selectors, services
from ..models import SubstitutionReason

register = template.Library()


@register.inclusion_tag("fiscal/_invoice_section.html", takes_context=True)
def nfcom_section(context, invoice):
    doc = selectors.for_invoice(invoice.pk)
    user = context["request"].user
    deadline = services.cancel_deadline(doc.authorised_at) if doc and doc.authorised_at else None
    return {"invoice": invoice, "doc": doc, "sefaz": services.describe(doc) if doc else "",
            "reasons": SubstitutionReason.choices,
            "cancellable": bool(deadline and timezone.now() <= deadline and not (doc and doc.purpose)),
            "can_operate": has_capability(user, Capability.OPERATE), "csrf_token": context.get("csrf_token"),
            "deadline": deadline}
