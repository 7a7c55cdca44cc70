"""The PIX part of a customer e-mail about an open título: its copia-e-cola as text (in
the plain and the HTML part) and its QR code as a PNG carried in the message (segno; a
``cid:`` image, so no mail client has to fetch anything to show it). Used by the
customer notices (agrega/notices) and the bill e-mail (agrega/fiscal)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from django.utils.html import escape, linebreaks

from .models import ChargeStatus, PixCharge

QR_CONTENT_ID = "pix-qr@agrega"
QR_FILENAME = "pix-qr-code.png"


@dataclass(frozen=True)
class PixPart:
    payload: str  # the BR Code (copia-e-cola)
    txid: str

    def png(self) -> bytes:
        """The QR code of the copia-e-cola (error level M, as on the pages)."""
        out = io.BytesIO()
        segno.make(self.payload, error="m", micro=False).save(out, kind="png", scale=5, border=4)
        return out.getvalue()

    def text(self) -> str:
        return ("Pague com PIX: leia o QR code no aplicativo do seu banco ou use o PIX copia e cola abaixo "
                "(o pagamento é reconhecido em instantes):\n" + self.payload + "\n")

    def html(self) -> str:
        return ('<div style="margin-top:1.5em">'
                "<p>Pague com PIX: leia o QR code no aplicativo do seu banco ou use o PIX copia e cola abaixo "
                "(o pagamento é reconhecido em instantes).</p>"
                f'<p><img src="cid:{QR_CONTENT_ID}" alt="QR code PIX" width="240" height="240"></p>'
                '<p style="font-family:monospace;word-break:break-all;font-size:13px">'
                f"{escape(self.payload)}</p></div>")


def _active(charges) -> PixPart | None:
    row = (charges.filter(invoice__status="open", status=ChargeStatus.ACTIVE).exclude(pix_copia_e_cola="")
           .order_by("invoice__due_date", "invoice_id").values_list("pix_copia_e_cola", "txid").first())
    return PixPart(*row) if row else None


def invoice_pix_part(invoice_id: int) -> PixPart | None:
    """The título's PIX, when it is open and its cobv is active on the PSP (else None:
    nothing to pay with, or a cobrança that would be refused)."""
    return _active(PixCharge.objects.filter(invoice_id=invoice_id))


def contract_pix_part(contract_id: int) -> PixPart | None:
    """The PIX of the contract's oldest open título with an active cobv."""
    return _active(PixCharge.objects.filter(invoice__contract_id=contract_id))


def email_with_pix(*, subject: str, body: str, to: list[str], pix: PixPart | None, from_email=None,
                   connection=None):
    """The e-mail of ``body`` (plain text) with ``pix`` added to its text and as an HTML
    alternative with the QR code inline; without ``pix`` a plain e-mail. The copia-e-cola
    is not repeated in the text when ``body`` already has it (a template that used
    ``{{ pix_copia_e_cola }}``)."""
    from django.core.mail import EmailMessage

    from agrega.core.mail import InlineImagesEmail

    if pix is None:
        return EmailMessage(subject=subject, body=body, to=to, from_email=from_email, connection=connection)
    text = body if pix.payload in body else body.rstrip("\n") + "\n\n" + pix.text()
    html_body = linebreaks(escape(body if pix.payload not in body else body.replace(pix.payload, "").rstrip()))
    message = InlineImagesEmail(subject=subject, body=text, to=to, from_email=from_email, connection=connection,
                                inline_images=[(QR_CONTENT_ID, pix.png(), QR_FILENAME)])
    message.attach_alternative(f'<html><body style="font-family:sans-serif">{html_body}{pix.html()}</body></html>',
                               "text/html")
    return message
