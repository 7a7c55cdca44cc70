"""The campaign report as CSV rows (page download and CLI share it)."""

from __future__ import annotations

from django.utils import timezone

from .models import ItemStatus

HEADER = ["contrato", "cliente", "situacao", "motivo", "mensagem", "aviso", "usuario_sva", "processado_em"]
STATUS_LABELS = dict(ItemStatus.choices)


def row(item) -> list:
    processed = timezone.localtime(item.processed_at).strftime("%d/%m/%Y %H:%M:%S") if item.processed_at else ""
    return [item.contract_id, item.contract.customer.name, STATUS_LABELS[item.status], item.reason, item.message,
            "sim" if item.warning else "não", item.sva_user_id or "", processed]
