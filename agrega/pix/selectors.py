"""Reads of the PIX app: accounts, a título's cobrança (copia-e-cola and QR code)."""

from __future__ import annotations

import segno

from .models import PixAccount, PixCharge, PixRecurrence


def account_list():
    return PixAccount.objects.order_by("id")


def account_get(account_id: int) -> PixAccount:
    """The PSP account, or 404 ``pix_account_not_found``."""
    from agrega.core.errors import NotFound

    account = PixAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise NotFound("Conta PIX", "pix_account_not_found")
    return account


def charge_for_invoice(invoice_id: int) -> PixCharge | None:
    """The título's current cobv (its highest sequence): the one to pay, when active."""
    return PixCharge.objects.filter(invoice_id=invoice_id).order_by("-sequence").first()


def charge_history(invoice_id: int) -> list[PixCharge]:
    """The título's earlier cobranças (paid in part, given back, removed), newest first:
    kept on record, never offered to pay."""
    return list(PixCharge.objects.filter(invoice_id=invoice_id).order_by("-sequence")[1:])


def qr_svg(payload: str, *, scale: int = 3) -> str:
    """The BR Code as an inline SVG (segno): no image file, no external service."""
    if not payload:
        return ""
    return segno.make(payload, error="m", micro=False).svg_inline(scale=scale, title="QR code PIX")


def invoice_pix(invoice_id: int) -> dict | None:
    """What every channel shows of a título's Pix: its current cobv's status,
    copia-e-cola, QR (SVG) and amount; the earlier ones as ``history`` (no copia-e-cola:
    they cannot be paid any more)."""
    charges = list(PixCharge.objects.filter(invoice_id=invoice_id).order_by("-sequence"))
    if not charges:
        return None
    charge = charges[0]
    return {"txid": charge.txid, "status": charge.status, "status_label": charge.get_status_display(),
            "amount": _money(charge.amount_sent), "copia_e_cola": charge.pix_copia_e_cola,
            "location": charge.location,
            "qr_svg": qr_svg(charge.pix_copia_e_cola) if charge.status == "active" else "",
            "last_error": charge.last_error,
            "history": [{"txid": c.txid, "status": c.status, "status_label": c.get_status_display(),
                         "amount": _money(c.amount_sent)} for c in charges[1:]]}


def _money(value) -> str:
    return f"{value:.2f}" if value is not None else ""


def contract_recurrence(contract_id: int) -> PixRecurrence | None:
    return PixRecurrence.objects.filter(contract_id=contract_id).order_by("-id").first()


def contract_open_copia_e_cola(contract_id: int) -> str:
    """The copia-e-cola of the contract's oldest open título with an active cobv (the
    customer notice e-mail offers it to pay and be released at once)."""
    return (PixCharge.objects.filter(invoice__contract_id=contract_id, invoice__status="open", status="active")
            .order_by("invoice__due_date", "invoice_id").values_list("pix_copia_e_cola", flat=True).first() or "")
