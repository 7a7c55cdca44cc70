"""``agrega reconcile``: compare the SVA users on the platform with Agrega's and print the
report (counts, each difference and what was done).

    agrega reconcile                      # every active integration
    agrega reconcile --integration 3      # one integration
    agrega reconcile --integration 3 --remove-unknown
    agrega reconcile --show 12            # a past run's report
    agrega reconcile --show 12 --kind state_differs   # its differences of one kind
    agrega reconcile --list --integration 3 --status failed   # past runs

Exit status: 0 when every run finished, 2 when refused (e.g. ``reconcile_running``:
another run of that integration is in progress, here or on another machine), 3 when the
platform could not be listed.
"""

from __future__ import annotations

from agrega.core.errors import ApplicationError, NotFound
from agrega.core.management.base import (
    EXIT_ERROR,
    EXIT_PLATFORM,
    AgregaCommand,
    fmt_bool,
    fmt_datetime,
    key_values,
    positive_int,
    table,
)
from agrega.integrations.models import SvaIntegration
from agrega.sva.models import ReconciliationRun, ReconciliationStatus
from agrega.sva.reconcile.services import (
    DEFAULT_PAGE_SIZE,
    count_rows,
    reconcile_integration,
    reconciliation_run_get,
    runner_label,
)
from agrega.sva.filtersets import ReconciliationItemFilterSet, ReconciliationRunFilterSet

ITEMS_SHOWN = 200


def run_data(run: ReconciliationRun, *, items: bool = True, item_filters: dict | None = None) -> dict:
    data = {
        "id": run.pk,
        "integration_id": run.integration_id,
        "integration": run.integration.name,
        "status": run.status,
        "status_label": run.get_status_display(),
        "runner": run.runner,
        "actor": run.actor_label,
        "remove_unknown": run.remove_unknown,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "counts": run.counts,
        "error_code": run.error_code,
        "error_message": run.error_message,
    }
    if items:
        data["items"] = [
            {"id": i.pk, "external_id": i.external_id, "sva_user_id": i.sva_user_id, "kind": i.kind,
             "action": i.action, "message": i.message, "detail": i.detail}
            for i in ReconciliationItemFilterSet(item_filters, run_id=run.pk).queryset()
        ]
    return data


def run_lines(run: ReconciliationRun, *, item_filters: dict | None = None) -> list[str]:
    lines = [f"Reconciliação {run.pk} — integração {run.integration_id} ({run.integration.name}): "
             f"{run.get_status_display().lower()}"]
    lines += key_values([
        ("Executada por", f"{run.runner} ({run.actor_label or 'sistema'})"),
        ("Início", fmt_datetime(run.started_at)),
        ("Fim", fmt_datetime(run.finished_at)),
        ("Remove desconhecidos", fmt_bool(run.remove_unknown)),
    ])
    if run.error_message:
        lines.append(f"  Erro: [{run.error_code}] {run.error_message}")
    lines.append("")
    lines += ["  " + line for line in table(["CONTAGEM", "QTD"],
                                            [[label, value] for _, label, value in count_rows(run) if value])]
    items = list(ReconciliationItemFilterSet(item_filters, run_id=run.pk).queryset()[: ITEMS_SHOWN + 1])
    if items:
        lines.append("")
        lines += ["  " + line for line in table(
            ["ID EXTERNO", "USUÁRIO SVA", "DIFERENÇA", "AÇÃO", "DESCRIÇÃO"],
            [[i.external_id, i.sva_user_id, i.get_kind_display(), i.get_action_display(), i.message]
             for i in items[:ITEMS_SHOWN]])]
        if len(items) > ITEMS_SHOWN:
            lines.append(f"  … mais diferenças: veja `agrega reconcile --show {run.pk} --json`")
    return lines


class Command(AgregaCommand):
    help = ("Reconcilia os usuários SVA com a plataforma: lista os usuários de cada integração ativa "
            "(ou da indicada), compara com o Agrega e corrige ou relata as diferenças.")

    def add_arguments(self, parser):
        # One command without subcommands: ``agrega reconcile [opções]``.
        parser.add_argument("--integration", type=positive_int, metavar="ID",
                            help="só esta integração (padrão: todas as ativas)")
        parser.add_argument("--remove-unknown", action="store_true",
                            help="remove da plataforma os usuários desconhecidos ou excluídos no Agrega "
                                 "(padrão: a política de cada integração)")
        parser.add_argument("--page-size", type=positive_int, default=DEFAULT_PAGE_SIZE, metavar="N",
                            help=f"usuários por página lida da plataforma (padrão {DEFAULT_PAGE_SIZE}, máx. 1000)")
        parser.add_argument("--show", type=positive_int, metavar="EXECUCAO",
                            help="mostra o relatório de uma reconciliação já feita e sai")
        # the filters of the differences (with --show) and of the runs (with --list): the
        # same as the pages' and the API's (sva/filtersets.py); --integration is the one above
        ReconciliationItemFilterSet.add_arguments(parser)
        parser.add_argument("--list", dest="list_runs", action="store_true",
                            help="lista as reconciliações já feitas (mais recentes primeiro) e sai")
        ReconciliationRunFilterSet.add_arguments(parser, only=("status",))
        parser.add_argument("--limit", type=positive_int, default=50, metavar="N",
                            help="com --list: máximo de reconciliações (padrão 50)")
        parser.add_argument("--json", action="store_true", help="saída em JSON (para scripts)")
        self.add_actor(parser)
        parser.set_defaults(_handler=self.reconcile)

    def add_subcommands(self, sub) -> None:  # pragma: no cover - this command has none
        raise NotImplementedError

    def reconcile(self, *, integration, remove_unknown, page_size, show, as_user, list_runs=False, limit=50,
                  **options):
        if show:
            run = reconciliation_run_get(show)
            if run is None:
                raise NotFound("Reconciliação", "reconciliation_not_found")
            item_filters = ReconciliationItemFilterSet(ReconciliationItemFilterSet.from_options(options),
                                                       run_id=run.pk).clean()
            self.emit(run_data(run, item_filters=item_filters), lambda: run_lines(run, item_filters=item_filters))
            return
        if list_runs:
            self.list_runs({**options, "integration": integration}, limit=limit)
            return
        actor = self.actor(as_user)
        if integration is not None:
            targets = list(SvaIntegration.objects.filter(pk=integration))
            if not targets:
                raise NotFound("Integração SVA", "integration_not_found")
        else:
            targets = list(SvaIntegration.objects.filter(active=True).order_by("id"))
        runner = runner_label("cli")
        runs, refused = [], []
        for target in targets:
            try:
                runs.append(reconcile_integration(target, runner=runner, actor=actor, page_size=page_size,
                                                  remove_unknown=True if remove_unknown else None))
            except ApplicationError as exc:
                if integration is not None:
                    raise
                refused.append((target, exc))
        if self.json_mode:
            self.emit_json({
                "runs": [run_data(r) for r in runs],
                "refused": [{"integration_id": t.pk, "error": e.as_dict()} for t, e in refused],
            })
        else:
            if not targets:
                self.stdout.write("Nenhuma integração SVA ativa.")
            for run in runs:
                for line in run_lines(run):
                    self.stdout.write(line)
                self.stdout.write("")
            for target, exc in refused:
                self.stderr.write(f"integração {target.pk}: erro [{exc.code}]: {exc.message}")
        if any(r.status == ReconciliationStatus.FAILED for r in runs):
            raise SystemExit(EXIT_PLATFORM)
        if refused:
            raise SystemExit(EXIT_ERROR)

    def list_runs(self, options: dict, *, limit: int):
        runs = list(ReconciliationRunFilterSet(ReconciliationRunFilterSet.from_options(options)).queryset()[:limit])

        def lines():
            if not runs:
                return ["Nenhuma reconciliação encontrada."]
            rows = [(r.pk, r.integration_id, r.get_status_display(), fmt_datetime(r.started_at),
                     fmt_datetime(r.finished_at), int(r.counts.get("differences", 0))) for r in runs]
            return [*table(("ID", "Integração", "Situação", "Início", "Fim", "Diferenças"), rows),
                    f"{len(runs)} reconciliação(ões)."]

        self.emit([run_data(r, items=False) for r in runs], lines)
