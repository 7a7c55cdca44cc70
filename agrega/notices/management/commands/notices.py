"""``agrega notices run|list``: avisos ao cliente (e-mail quando o acesso SVA é criado,
bloqueado ou liberado na plataforma).

``run`` does once what the periodic job does: write the notices of the states the
platform confirmed since the last run, then send what is due (the e-mail backend is
``AGREGA_EMAIL_BACKEND``: a file per message in var/emails by default)."""

from __future__ import annotations

from agrega.core.management.base import AgregaCommand, fmt_datetime, positive_int, table
from agrega.notices.filtersets import NoticeFilterSet
from agrega.notices.services import enqueue_debt_notices, enqueue_state_notices, send_pending_notices


class Command(AgregaCommand):
    help = "Avisos ao cliente: gera e envia (run) ou lista (list)."

    def add_subcommands(self, sub):
        run = self.subcommand(sub, "run", self.cmd_run, help="Gera os avisos pendentes e envia os devidos, uma vez.")
        run.add_argument("--limit", type=positive_int, default=500, metavar="N",
                         help="máximo de e-mails enviados nesta execução (padrão 500)")
        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista os últimos avisos.")
        NoticeFilterSet.add_arguments(listing)  # notices/filtersets.py: the list's one declaration
        listing.add_argument("--limit", type=positive_int, default=50, metavar="N", help="máximo (padrão 50)")

    def cmd_run(self, *, limit=500, **options):
        written = enqueue_state_notices()
        written["debt"] = enqueue_debt_notices()
        sent = send_pending_notices(limit=limit)
        data = {"written": written, "sending": sent}
        self.emit(data, [
            f"Avisos gerados: {written.get('created', 0)} criado(s), {written.get('blocked', 0)} bloqueado(s), "
            f"{written.get('released', 0)} liberado(s); {written.get('skipped', 0)} sem e-mail válido, "
            f"{written.get('disabled', 0)} desativado(s) na integração.",
            f"Avisos de débito da régua: {written.get('debt', {}).get('debt', 0)} a enviar, "
            f"{written.get('debt', {}).get('skipped', 0)} sem e-mail válido.",
            f"Envio: {sent.get('sent', 0)} enviado(s), {sent.get('failed', 0)} com falha"
            + (" (erro interno: veja o log)" if sent.get("error") else "") + ".",
        ])

    def cmd_list(self, *, limit=50, **options):
        notices = list(NoticeFilterSet(NoticeFilterSet.from_options(options)).queryset()[:limit])
        data = [
            {"id": n.pk, "sva_user_id": n.sva_user_id, "contract_id": n.sva_user.contract_id if n.sva_user_id else n.contract_id, "event": n.event,
             "to": n.to, "subject": n.subject, "status": n.status, "attempts": n.attempts,
             "last_error": n.last_error, "created_at": n.created_at, "sent_at": n.sent_at,
             "next_attempt_at": n.next_attempt_at}
            for n in notices
        ]

        def lines():
            if not notices:
                return ["Nenhum aviso."]
            rows = [(n.pk, fmt_datetime(n.created_at), n.get_event_display(),
                     n.sva_user.contract_id if n.sva_user_id else n.contract_id, n.to,
                     n.get_status_display(), n.attempts, n.last_error) for n in notices]
            return table(("ID", "Quando", "Evento", "Contrato", "Para", "Situação", "Tentativas", "Erro"), rows)

        self.emit(data, lines)
