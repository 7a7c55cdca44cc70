"""``agrega report revenue``: receita por classe fiscal (SCM/SVA) e tributos estimados.

    agrega report revenue --period 2026-11
    agrega report revenue --from 2026-01 --to 2026-12 --csv receita-2026.csv
"""

from __future__ import annotations

from pathlib import Path

from agrega.billing import reports
from agrega.billing.filtersets import RevenueReportFilterSet
from agrega.billing.taxes.services import plain_rate
from agrega.core.errors import ApplicationError
from agrega.core.management.base import AgregaCommand, fmt_money, table


def pct(rate) -> str:
    return plain_rate(rate).replace(".", ",") + "%"


def report_lines(report: reports.RevenueReport) -> list[str]:
    names = report.tax_names
    rows = []
    for c in report.classes:
        cells = []
        for name in names:
            tax = c.tax_for(name)
            cells.append(f"{fmt_money(tax.amount)} ({pct(tax.rate)})" if tax else "")
        rows.append((c.fiscal_class, fmt_money(c.revenue), f"{c.share:.2f}%".replace(".", ","), *cells,
                     fmt_money(c.tax_total)))
    rows.append(("Total", fmt_money(report.revenue_total), "", *["" for _ in names], fmt_money(report.tax_total)))
    lines = [f"Receita SCM/SVA — competência {report.period_label} ({report.invoices} título(s) não cancelado(s))"]
    lines += table(("Classe", "Receita", "Part.", *names, "Tributos"), rows)
    scm = ", ".join(f"{t.tax} {pct(t.rate)} = {fmt_money(t.amount)}" for t in report.all_scm_taxes) or \
        "nenhuma alíquota SCM cadastrada"
    lines += [
        "",
        f"Se toda a receita fosse SCM: {fmt_money(report.all_scm_tax_total)} ({scm})",
        f"Economia estimada: {fmt_money(report.saving)}",
        "Estimativa com as alíquotas atuais (agrega tax-rates list).",
    ]
    return lines


class Command(AgregaCommand):
    help = "Relatórios."

    def add_subcommands(self, sub):
        revenue = self.subcommand(
            sub, "revenue", self.cmd_revenue,
            help="Receita por classe fiscal (SCM, SVA, OUTRO) e tributos estimados de uma competência ou intervalo.",
            epilog="Exemplos:\n  agrega report revenue --period 2026-11\n"
                   "  agrega report revenue --from 2026-01 --to 2026-12 --csv receita.csv",
        )
        RevenueReportFilterSet.add_arguments(revenue)  # --period, --from, --to: as the page's and the API's
        revenue.add_argument("--csv", dest="csv_file", metavar="ARQUIVO",
                             help="grava também o CSV (Excel: ; e vírgula decimal); '-' escreve o CSV na saída")

    def cmd_revenue(self, *, csv_file=None, **options):
        first, last = RevenueReportFilterSet(RevenueReportFilterSet.from_options(options)).months()
        report = reports.revenue_report(period_from=first, period_to=last)
        if csv_file == "-":
            self.stdout.write(reports.revenue_report_csv(report), ending="")
            return
        if csv_file:
            try:
                Path(csv_file).write_bytes(reports.revenue_report_csv(report).encode("utf-8"))
            except OSError as exc:
                raise ApplicationError("file_write_failed",
                                       f"Não foi possível gravar {csv_file}: {exc.strerror}.") from None
        lines = report_lines(report)
        if csv_file:
            lines.append(f"CSV gravado em {csv_file}.")
        self.emit(report.as_dict(), lines)
