"""Reads for customer notices: the texts an integration uses per event (its own or the
default), the values a notice about one SVA user carries, and the outbox lists."""

from __future__ import annotations

from django.db.models import QuerySet

from agrega.core.br import format_document, format_mobile

from .models import CustomerNotice, NoticeEvent, NoticeSettings, NoticeTemplate
from .rendering import DEFAULT_HOW_TO_USE, DEFAULTS


def integration_texts(integration) -> dict:
    """{"how_to_use": str, "custom_how_to_use": bool, "events": {event: {subject, body,
    enabled, custom}}} — what this integration sends (defaults where it has no text)."""
    own = {t.event: t for t in NoticeTemplate.objects.filter(integration=integration)}
    settings = NoticeSettings.objects.filter(integration=integration).first()
    events = {}
    for event in NoticeEvent.values:
        template = own.get(event)
        subject, body = DEFAULTS[event]
        events[event] = {
            "event": event,
            "label": NoticeEvent(event).label,
            "subject": template.subject if template else subject,
            "body": template.body if template else body,
            "enabled": template.enabled if template else True,
            "custom": template is not None,
            "updated_at": template.updated_at if template else None,
            "updated_by": template.updated_by_label if template else "",
        }
    how_to_use = settings.how_to_use if settings and settings.how_to_use.strip() else ""
    return {"how_to_use": how_to_use or DEFAULT_HOW_TO_USE, "custom_how_to_use": bool(how_to_use),
            "events": events}


def platform_label(integration) -> str:
    from agrega.integrations.connectors.registry import connector_class

    try:
        return connector_class(integration.platform).label
    except LookupError:
        return integration.platform.upper()


def contract_open_pix(contract_id: int) -> str:
    """The PIX copia e cola of the contract's oldest open título (agrega/pix), or ""."""
    from agrega.pix.selectors import contract_open_copia_e_cola

    return contract_open_copia_e_cola(contract_id)


def contract_open_pix_part(contract_id: int):
    """The PIX (agrega/pix/mail.py ``PixPart``) of the contract's oldest open título with
    an active cobv, or None."""
    from agrega.pix.mail import contract_pix_part

    return contract_pix_part(contract_id)


def email_with_pix(**kwargs):
    """agrega/pix/mail.py ``email_with_pix``: the notice's e-mail, with the PIX part
    (copia-e-cola and its QR code inline) when there is one."""
    from agrega.pix.mail import email_with_pix as build

    return build(**kwargs)


def notice_values(sva_user) -> dict:
    """The plain values a notice about ``sva_user`` may use (rendering.VARIABLES, but
    ``como_usar``), from the user's registration data as the platform holds it."""
    from agrega.sva.selectors import registration_values

    values = registration_values(sva_user)
    product = sva_user.contract_product.product
    phone = values["phone"]
    try:
        phone = format_mobile(phone) if phone else ""
    except Exception:  # a stored value that does not format: show it as it is
        pass
    return {
        "cliente": sva_user.contract.customer.name,
        "contrato": str(sva_user.contract_id),
        "produto": product.name,
        "pacote": product.sva_package_code,
        "email": values["email"],
        "usuario": values["email"],
        "telefone": phone,
        "documento": format_document(values["document"]),
        "plataforma": platform_label(sva_user.integration),
        "pix_copia_e_cola": contract_open_pix(sva_user.contract_id),
    }


def notice_list(*, integration_id: int | None = None, sva_user_id: int | None = None,
                status: str | None = None) -> QuerySet[CustomerNotice]:
    """The list as ``NoticeFilterSet`` (notices/filtersets.py) filters it, values already valid."""
    from .filtersets import NoticeFilterSet

    return NoticeFilterSet.filtered({"integration_id": integration_id, "sva_user_id": sva_user_id,
                                     "status": status or None})
