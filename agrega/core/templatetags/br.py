"""Template filters for Brazilian values, thin wrappers of ``agrega.core.formats`` so
every page shows a CPF/CNPJ, a mobile or an amount the same way:
``{% load br %}{{ customer.document|document }} {{ customer.mobile_phone|mobile }}
{{ invoice.amount|brl }}``."""

from django import template

from agrega.core import formats

register = template.Library()


@register.filter(name="document")
def document_filter(value) -> str:
    """000.000.000-00, 00.000.000/0000-00 or 12.ABC.345/01DE-35."""
    return formats.format_document(value or "")


@register.filter(name="mobile")
def mobile_filter(value) -> str:
    """(11) 98765-4321."""
    return formats.format_phone(value or "")


@register.filter(name="brl")
def brl_filter(value) -> str:
    """R$ 1.234,56 (empty for a missing amount, not R$ 0,00)."""
    if value is None or value == "":
        return ""
    return formats.format_brl(value)
