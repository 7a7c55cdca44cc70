"""``agrega billing …``: o faturamento mensal e o financeiro de um contrato (o
desbloqueio de confiança é ``agrega dunning trust-release``)."""

from __future__ import annotations

from agrega.billing import selectors, services
from agrega.billing.models import BillingRun
from agrega.core.errors import NotFound
from agrega.core.management.base import (
    AgregaCommand,
    fmt_datetime,
    fmt_money,
    key_values,
    positive_int,
    table,
)

from .invoice import fmt_date, invoice_data


def emit_summary(command: AgregaCommand, contract_id: int, title: str | None = None,
                 extra: dict | None = None) -> None:
    """Print a contract's financial summary (also after ``agrega dunning trust-release``)."""
    contract = selectors.contract_for_billing(contract_id)
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    summary = selectors.contract_billing(contract)
    invoices = list(selectors.invoice_list(contract_id=contract_id).order_by("-id")[:12])
    command.emit({**summary_data(summary, invoices), **(extra or {})},
                 lambda: ([title] if title else []) + summary_lines(summary, invoices))


def run_data(run: BillingRun) -> dict:
    return {
        "id": run.pk, "period": f"{run.period:%Y-%m}", "started_at": run.started_at,
        "finished_at": run.finished_at, "contracts_seen": run.contracts_seen,
        "invoices_created": run.invoices_created, "lines_created": run.lines_created,
        "total_amount": f"{run.total_amount:.2f}", "actor": run.actor_label,
    }


def summary_data(summary: selectors.ContractBilling, invoices) -> dict:
    trust = summary.trust
    return {
        "contract_id": summary.contract.pk, "status": summary.contract.status,
        "access_status": summary.contract.access_status,
        "open_balance": f"{summary.open_balance:.2f}", "open_invoices": summary.open_invoices,
        "overdue_balance": f"{summary.overdue_balance:.2f}", "oldest_open_due": summary.oldest_open_due,
        "credit_balance": f"{summary.credit_balance:.2f}", "dunning_policy": summary.dunning_policy,
        "dunning_level": summary.dunning_level, "dunning_stage": summary.dunning_stage,
        "trust_release_until": summary.trust_release_until,
        "trust_release": {"available": trust.available, "code": trust.code, "reason": trust.reason,
                          "used": trust.used, "max_uses": trust.max_uses, "period_days": trust.period_days,
                          "max_days": trust.max_days, "next_available_at": trust.next_available_at},
        "invoices": [invoice_data(i) for i in invoices],
    }


def summary_lines(summary: selectors.ContractBilling, invoices) -> list[str]:
    c, trust = summary.contract, summary.trust
    if summary.trust_release_until:
        trust_text = f"ativo até {fmt_datetime(summary.trust_release_until)}"
    elif trust.available:
        trust_text = (f"disponível (até {trust.max_days} dia(s); {trust.remaining} de {trust.max_uses} "
                      "uso(s) restante(s))")
    else:
        trust_text = f"indisponível — {trust.reason}"
    lines = [
        f"Financeiro do contrato {c.pk} — {c.customer.name}",
        *key_values([
            ("Status / acesso", f"{c.status} ({c.get_status_display()}) / {c.access_status} "
                                f"({c.get_access_status_display()})"),
            ("Saldo em aberto", f"{fmt_money(summary.open_balance)} em {summary.open_invoices} título(s)"),
            ("Vencido", fmt_money(summary.overdue_balance)),
            ("Vencimento mais antigo", fmt_date(summary.oldest_open_due) if summary.oldest_open_due else ""),
            ("Crédito", fmt_money(summary.credit_balance)),
            ("Régua", summary.dunning_policy),
            ("Etapa da régua", summary.dunning_stage),
            ("Desbloqueio de confiança", trust_text),
            ("Usos no período", f"{trust.used} de {trust.max_uses} a cada {trust.period_days} dias"),
        ]),
        "Títulos:",
    ]
    if not invoices:
        lines.append("  nenhum título.")
    else:
        rows = [(i.pk, f"{i.period:%m/%Y}", fmt_date(i.due_date), fmt_money(i.amount), fmt_money(i.balance),
                 i.get_status_display()) for i in invoices]
        lines += ["  " + r for r in table(("Título", "Competência", "Vencimento", "Valor", "Saldo", "Situação"), rows)]
    return lines


class Command(AgregaCommand):
    help = ("Faturamento: fatura uma competência, lista os faturamentos, mostra o financeiro de um contrato "
            "e concede o desbloqueio de confiança.")

    def add_subcommands(self, sub):
        run = self.subcommand(
            sub, "run", self.cmd_run, help="Fatura uma competência: um título por contrato ativo.",
            epilog="Exemplo: agrega billing run --period 2026-11\nPode ser repetido: quem já foi faturado é pulado.",
        )
        run.add_argument("--period", required=True, metavar="AAAA-MM", help="competência")
        self.add_actor(run)

        runs = self.subcommand(sub, "runs", self.cmd_runs, help="Lista os faturamentos executados.")
        runs.add_argument("--limit", type=positive_int, default=50, metavar="N", help="máximo (padrão 50)")

        summary = self.subcommand(sub, "summary", self.cmd_summary,
                                  help="Financeiro de um contrato: saldo, crédito, régua, desbloqueio de confiança.")
        summary.add_argument("contract", type=int, help="ID do contrato")

    def cmd_run(self, *, period, as_user=None, **options):
        run = services.billing_run(period=services.parse_period(period.strip()), actor=self.actor(as_user))
        self.emit(run_data(run), [
            f"Faturamento {run.pk} da competência {run.period:%m/%Y} concluído.",
            *key_values([("Contratos examinados", run.contracts_seen), ("Títulos criados", run.invoices_created),
                         ("Itens", run.lines_created), ("Total faturado", fmt_money(run.total_amount))]),
        ])

    def cmd_runs(self, *, limit=50, **options):
        runs = list(BillingRun.objects.order_by("-id")[:limit])

        def lines():
            if not runs:
                return ["Nenhum faturamento executado."]
            rows = [(r.pk, f"{r.period:%m/%Y}", fmt_datetime(r.started_at), r.contracts_seen, r.invoices_created,
                     fmt_money(r.total_amount), r.actor_label) for r in runs]
            return table(("ID", "Competência", "Início", "Contratos", "Títulos", "Total", "Por"), rows)

        self.emit([run_data(r) for r in runs], lines)

    def cmd_summary(self, *, contract, **options):
        emit_summary(self, contract)
