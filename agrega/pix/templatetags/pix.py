"""``{% pix_invoice invoice %}``: the título's PIX (copia-e-cola and QR code, inline SVG)
on the contract's Financeiro tab and the título page — a template tag, so billing's
templates show it without billing importing the pix app."""

from django import template
from django.utils.safestring import mark_safe

from agrega.pix import selectors

register = template.Library()


@register.inclusion_tag("pix/_invoice_pix.html")
def pix_invoice(invoice, compact=False):
    data = selectors.invoice_pix(invoice.pk)
    if data and data["qr_svg"]:
        data["qr_svg"] = mark_safe(data["qr_svg"])  # segno's own SVG, no user input in markup
    return {"pix": data, "invoice": invoice, "compact": compact}


@register.inclusion_tag("pix/_contract_recurrence.html", takes_context=True)
def pix_recurrence(context, contract):
    return {"rec": selectors.contract_recurrence(contract.pk), "contract": contract,
            "can_operate": context.get("can_operate"), "csrf_token": context.get("csrf_token")}
