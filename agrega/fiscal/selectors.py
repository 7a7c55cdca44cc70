"""NFCom reads: lists, one document's files (XML, DANFE-COM), the accountant's monthly ZIP."""

from __future__ import annotations

import io
import zipfile
from datetime import date

from django.utils import timezone

from . import danfe
from .models import DocStatus, NFCom
from .reports import month_bounds


def nfcom_list(*, status: str = "", period: date | None = None):
    """The list as ``NFComFilterSet`` (fiscal/filtersets.py) filters it, values already valid."""
    from .filtersets import NFComFilterSet

    return NFComFilterSet.filtered({"status": status or None, "period": period})


def for_invoice(invoice_id: int) -> NFCom | None:
    """The título's current NFCom (the last of its substitutions)."""
    return NFCom.objects.filter(invoice_id=invoice_id).order_by("-id").first()


def document_xml(doc: NFCom) -> bytes:
    """The nfcomProc when authorised (the legal file), else the signed XML."""
    return bytes(doc.proc_xml) or bytes(doc.xml)


def document_pdf(doc: NFCom) -> bytes:
    when = timezone.localtime(doc.authorised_at).strftime("%d/%m/%Y %H:%M:%S") if doc.authorised_at else ""
    return danfe.render(bytes(doc.xml), protocol=doc.protocol, authorised_at=when,
                        cancelled=doc.status == DocStatus.CANCELLED)


def monthly_zip(period: date) -> tuple[bytes, int]:
    """Every authorised, cancelled or substituted NFCom of the month (nfcomProc) and the
    cancellation events, for the accountant. Returns (zip bytes, number of documents)."""
    start, end = month_bounds(period)
    docs = NFCom.objects.filter(status__in=[DocStatus.AUTHORISED, DocStatus.CANCELLED, DocStatus.SUBSTITUTED],
                                issued_at__date__gte=start, issued_at__date__lt=end).order_by("serie", "number")
    out = io.BytesIO()
    n = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for doc in docs.iterator(chunk_size=500):
            z.writestr(f"{doc.key}-nfcom.xml", document_xml(doc))
            if doc.status == DocStatus.CANCELLED and doc.cancel_xml:
                z.writestr(f"{doc.key}-cancelamento.xml", bytes(doc.cancel_xml))
            n += 1
    return out.getvalue(), n


def certificate_warning() -> str:
    """Início's line about the emitter's A1 certificate: empty unless it expires within 30
    days (or has expired), so the ISP renews it before the NFCom of a month are blocked."""
    from .certificates import expiry_warning
    from .models import Emitter

    not_after = Emitter.objects.filter(pk=1).values_list("certificate_not_after", flat=True).first()
    return expiry_warning(not_after)
