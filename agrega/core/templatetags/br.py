"""Template filters for Brazilian registration data, so every page shows a stored
CPF/CNPJ or mobile the same way: ``{% load br %}{{ customer.document|document }}``."""

from django import template

from agrega.core.br import format_document, format_mobile

register = template.Library()


@register.filter(name="document")
def document_filter(value) -> str:
    """000.000.000-00, 00.000.000/0000-00 or 12.ABC.345/01DE-35."""
    return format_document(value or "")


@register.filter(name="mobile")
def mobile_filter(value) -> str:
    return format_mobile(value or "")
