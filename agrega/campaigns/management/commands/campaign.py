"""``agrega campaign …``: campanhas SVA em massa.

    agrega campaign preview --product 7 --city Campinas --status A --lacks-product 7
    agrega campaign create --name "Segurança para Campinas" --product 7 --city Campinas --rate 5
    agrega campaign run 3          # inicia (se rascunho) e executa até o fim, com progresso
    agrega campaign pause 3 | resume 3 | cancel 3
    agrega campaign report 3 [--csv relatorio.csv]
"""

from __future__ import annotations

import sys
import time

from agrega.campaigns import report, selectors, services
from agrega.campaigns.filtersets import CampaignFilterSet, CampaignItemFilterSet, CampaignListFilterSet
from agrega.campaigns.models import Campaign, CampaignStatus, ItemStatus
from agrega.core import csvio
from agrega.core.errors import NotFound
from agrega.core.management.base import AgregaCommand, fmt_datetime, key_values, positive_int, table


def campaign_data(c: Campaign) -> dict:
    return {
        "id": c.pk, "name": c.name, "product_id": c.product_id, "product": c.product.name, "filters": c.filters,
        "rate_per_second": c.rate_per_second, "status": c.status, "status_label": c.get_status_display(),
        "total": c.total, "added": c.added, "skipped": c.skipped, "failed": c.failed, "warnings": c.warnings,
        "pending": max(0, c.total - c.processed), "created_by": c.created_by_label, "created_at": c.created_at,
        "started_at": c.started_at, "finished_at": c.finished_at,
    }


def item_data(item) -> dict:
    return {"contract_id": item.contract_id, "customer": item.contract.customer.name, "status": item.status,
            "reason": item.reason, "message": item.message, "warning": item.warning,
            "contract_product_id": item.contract_product_id, "sva_user_id": item.sva_user_id,
            "processed_at": item.processed_at}


class Command(AgregaCommand):
    help = "Campanhas SVA: inclui um produto SVA em todos os contratos escolhidos por filtros."

    def add_subcommands(self, sub):
        filters = CampaignFilterSet.add_arguments  # the same filters as the form and the API

        p = self.subcommand(sub, "preview", self.preview, help="Quantos contratos os filtros escolhem.")
        p.add_argument("--product", type=positive_int, required=True, metavar="PRODUTO", help="o produto SVA")
        filters(p)

        p = self.subcommand(sub, "create", self.create, help="Cria uma campanha (rascunho).")
        p.add_argument("--name", required=True, help="nome da campanha")
        p.add_argument("--product", type=positive_int, required=True, metavar="PRODUTO", help="o produto SVA")
        p.add_argument("--rate", metavar="POR_SEGUNDO",
                       help=f"contratos por segundo (padrão {services.DEFAULT_RATE_PER_SECOND})")
        filters(p)
        self.add_actor(p)

        for name, handler, text in (
            ("start", self.start, "Inicia: fixa os contratos da campanha (execute com `run`)."),
            ("pause", self.pause, "Pausa depois do contrato em andamento."),
            ("resume", self.resume, "Retoma uma campanha pausada (execute com `run`)."),
            ("cancel", self.cancel, "Cancela: os contratos pendentes não são processados."),
        ):
            p = self.subcommand(sub, name, handler, help=text)
            p.add_argument("campaign", type=positive_int, metavar="CAMPANHA")
            self.add_actor(p)

        p = self.subcommand(sub, "run", self.run, help="Executa a campanha no ritmo configurado, com progresso.")
        p.add_argument("campaign", type=positive_int, metavar="CAMPANHA")
        p.add_argument("--max-seconds", type=float, help="para depois deste tempo (continua depois)")
        p.add_argument("--quiet", action="store_true", help="sem linhas de progresso")
        self.add_actor(p)

        p = self.subcommand(sub, "show", self.show, help="Mostra a campanha e o resumo por motivo.")
        p.add_argument("campaign", type=positive_int, metavar="CAMPANHA")

        p = self.subcommand(sub, "list", self.list, help="Lista as campanhas.")
        CampaignListFilterSet.add_arguments(p)  # the same filter as the page and the API

        p = self.subcommand(sub, "report", self.report, help="Relatório: cada contrato e o motivo.")
        p.add_argument("campaign", type=positive_int, metavar="CAMPANHA")
        CampaignItemFilterSet.add_arguments(p)  # the same filters as the page and the API
        p.add_argument("--csv", metavar="ARQUIVO", help="grava o relatório em CSV")

    # -- helpers --------------------------------------------------------------------

    @staticmethod
    def _filters(options) -> dict:
        return CampaignFilterSet.from_options(options)

    @staticmethod
    def _get(pk: int) -> Campaign:
        campaign = selectors.campaign_get(pk)
        if campaign is None:
            raise NotFound("Campanha", "campaign_not_found")
        return campaign

    def _summary(self, c: Campaign) -> list[str]:
        return [
            f"Campanha {c.pk} — {c.name}",
            *key_values([
                ("Situação", c.get_status_display()), ("Produto SVA", f"{c.product.name} (ID {c.product_id})"),
                ("Filtros", ", ".join(f"{k}={v}" for k, v in c.filters.items()) or "todos os contratos"),
                ("Ritmo", f"{c.rate_per_second} contratos/s"),
                ("Progresso", f"{c.processed}/{c.total}"), ("Incluídos", c.added), ("Ignorados", c.skipped),
                ("Falhas", c.failed), ("Com aviso", c.warnings), ("Por", c.created_by_label),
                ("Criada em", fmt_datetime(c.created_at)),
            ]),
        ]

    # -- subcommands ----------------------------------------------------------------

    def preview(self, *, product, **options):
        counts = services.campaign_preview(product_id=product, filters=self._filters(options))
        self.emit(counts, key_values([
            ("Contratos escolhidos", counts["total"]), ("Já têm o produto", counts["already_has"]),
            ("Cancelados", counts["cancelled"]),
            ("Sem consentimento", counts["no_consent"] if counts["consent_required"] else "não exigido"),
            ("Não ativos (usuário na ativação)", counts["not_active"]), ("Receberão o produto", counts["eligible"]),
        ], indent=""))

    def create(self, *, name, product, rate, as_user, **options):
        campaign = services.campaign_create(name=name, product_id=product, filters=self._filters(options),
                                            rate_per_second=rate, actor=self.actor(as_user))
        self.emit(campaign_data(campaign), ["Campanha criada (rascunho).", *self._summary(campaign)])

    def _act(self, service, campaign, as_user, text):
        found = service(campaign=self._get(campaign), actor=self.actor(as_user))
        found = self._get(found.pk)
        self.emit(campaign_data(found), [text, *self._summary(found)])

    def start(self, *, campaign, as_user, **_):
        self._act(services.campaign_start, campaign, as_user, "Campanha iniciada.")

    def pause(self, *, campaign, as_user, **_):
        self._act(services.campaign_pause, campaign, as_user, "Campanha pausada.")

    def resume(self, *, campaign, as_user, **_):
        self._act(services.campaign_resume, campaign, as_user, "Campanha retomada.")

    def cancel(self, *, campaign, as_user, **_):
        self._act(services.campaign_cancel, campaign, as_user, "Campanha cancelada.")

    def run(self, *, campaign, max_seconds, quiet, as_user, **_):
        actor = self.actor(as_user)
        found = self._get(campaign)
        if found.status == CampaignStatus.DRAFT:
            services.campaign_start(campaign=found, actor=actor)
        started = time.monotonic()
        stream = sys.stderr if self.json_mode else self.stdout
        last = [0.0]

        def progress(c: Campaign) -> None:
            now = time.monotonic()
            if quiet or (now - last[0] < 1.0 and c.processed < c.total):
                return
            last[0] = now
            stream.write(f"progresso: {c.processed}/{c.total} ({c.percent}%) · {c.added} incluídos · "
                         f"{c.skipped} ignorados · {c.failed} falhas · {c.warnings} com aviso"
                         + ("\n" if self.json_mode else ""))
            stream.flush()

        result = services.campaign_run(campaign_id=found.pk, max_seconds=max_seconds,
                                       actor=actor, progress=progress)
        result = self._get(result.pk)
        elapsed = time.monotonic() - started
        self.emit({**campaign_data(result), "seconds": round(elapsed, 3)},
                  [f"Execução encerrada em {elapsed:.1f} s: {result.get_status_display().lower()}.",
                   *self._summary(result)])

    def show(self, *, campaign, **_):
        found = self._get(campaign)
        reasons = selectors.campaign_reasons(found.pk)
        self.emit({**campaign_data(found), "reasons": reasons}, lambda: [
            *self._summary(found), "Por motivo:",
            *table(["Situação", "Motivo", "Contratos"],
                   [(dict(ItemStatus.choices)[r["status"]], r["reason"] or "—", r["count"]) for r in reasons]),
        ])

    def list(self, **options):
        rows = list(CampaignListFilterSet(CampaignListFilterSet.from_options(options)).queryset()[:100])
        self.emit([campaign_data(c) for c in rows], lambda: table(
            ["ID", "Nome", "Produto", "Situação", "Progresso", "Incluídos", "Ignorados", "Falhas"],
            [(c.pk, c.name, c.product.name, c.get_status_display(), f"{c.processed}/{c.total}", c.added, c.skipped,
              c.failed) for c in rows]) if rows else ["Nenhuma campanha."])

    def report(self, *, campaign, csv: str | None = None, **options):  # noqa: A002
        found = self._get(campaign)
        items = CampaignItemFilterSet(CampaignItemFilterSet.from_options(options), campaign_id=found.pk).queryset()
        if csv:
            write_report_csv(found, items, csv)
        data = [item_data(i) for i in items]
        self.emit({**campaign_data(found), "items": data}, lambda: [
            *table(["Contrato", "Cliente", "Situação", "Motivo", "Mensagem"],
                   [(d["contract_id"], d["customer"], dict(ItemStatus.choices)[d["status"]], d["reason"],
                     d["message"]) for d in data]),
            *([f"Relatório gravado em {csv}."] if csv else []),
        ])


def write_report_csv(campaign, items, path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as out:
        writer = csvio.writer(out)
        writer.writerow(report.HEADER)
        for item in items.iterator(chunk_size=2000):
            writer.writerow(report.row(item))
