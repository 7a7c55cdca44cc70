"""Reconciliation: list an integration's users on the platform and compare them with
Agrega's, so drift made behind our back (a user removed, blocked or edited in the
platform's own panel) is found and repaired.

What a run does with each difference:

* missing on the platform, other state, other data → the user is **marked for the
  worker**: its confirmed state becomes ``unknown`` and its ``version`` is bumped, so the
  worker looks the user up (it trusts the confirmed state otherwise) and converges it with
  its usual calls. Reconciliation never creates, blocks or edits a user itself, and so
  never races the worker. (``unknown`` rather than what the page showed: the worker reads
  the live state, and customer notices, which follow the confirmed state, do not announce
  a drift that is being undone);
* a user the worker holds (queued, see sva/pending.py, or leased) → reported as
  "already pending", untouched; one the worker wrote after the page was read is left
  alone (counted, not reported: the page may be stale);
* on the platform under our prefix but unknown here, or deleted here → reported, and
  deleted through the connector only when the integration's policy
  (``reconcile_remove_unknown``) or the caller says so. A user that belongs to another
  integration of this Agrega is never removed.

One run per integration at a time, on any number of machines: the run row is the lock
(a partial unique constraint on running runs) with a lease renewed page by page; a run
whose process died stops blocking once its lease expires. Memory is bounded: the platform
is read page by page and the external ids met are written to ``ReconciliationSeen``, so
"missing on the platform" is one query at the end.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from agrega.core.audit import actor_label, record_change
from agrega.core.errors import ApplicationError, Conflict, InvalidTransition, NotFound
from agrega.integrations.connectors.base import CallRecord, Capability, ConnectorError, ErrorKind, RemoteUser
from agrega.integrations.connectors.registry import platform_allows
from agrega.integrations.models import SvaIntegration
from agrega.integrations.services import connector_for

from agrega.sva import pending
from agrega.sva.choices import SvaState
from agrega.sva.models import (
    ReconciliationAction,
    ReconciliationItem,
    ReconciliationKind,
    ReconciliationRun,
    ReconciliationSeen,
    ReconciliationStatus,
    SvaCall,
    SvaUser,
)
from agrega.sva.selectors import desired_for, is_pending, sva_user_queryset

log = logging.getLogger("agrega.sva.reconcile")

LEASE_SECONDS = 600  # renewed after every page; a page never takes this long
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
CHUNK = 500  # ids per IN (...) query
KEEP_DAYS = 90  # reports kept by the periodic job (settings.RECONCILE_KEEP_DAYS)
LIST_ATTEMPTS = 4  # a transient failure or a 429 while listing is retried this many times
DATA_FIELDS = ("name", "email", "phone", "document", "package_code")
FIELD_LABELS = {
    "status": "situação", "name": "nome", "email": "e-mail", "phone": "telefone",
    "document": "CPF/CNPJ", "package_code": "pacote",
}
STATE_LABELS = {"active": "ativo", "blocked": "bloqueado", "absent": "inexistente", "unknown": "desconhecido"}

# Every key a run counts, with its label (the API, the CLI and the page show them).
COUNT_LABELS = {
    "remote_users": "Usuários lidos na plataforma",
    "pages": "Páginas lidas",
    "local_users": "Usuários SVA no Agrega (não excluídos)",
    "in_sync": "Iguais nos dois lados",
    "differences": "Diferenças",
    ReconciliationKind.MISSING_ON_PLATFORM: "Ausentes na plataforma",
    ReconciliationKind.STATE_DIFFERS: "Situação diferente",
    ReconciliationKind.DATA_DIFFERS: "Dados diferentes",
    ReconciliationKind.UNKNOWN_ON_PLATFORM: "Desconhecidos no Agrega",
    ReconciliationKind.DELETED_HERE_PRESENT_THERE: "Excluídos no Agrega, presentes na plataforma",
    ReconciliationAction.MARKED_FOR_SYNC: "Marcados para sincronizar",
    ReconciliationAction.ALREADY_PENDING: "Já pendentes de sincronização",
    ReconciliationAction.REMOVED: "Removidos da plataforma",
    ReconciliationAction.REPORTED: "Apenas relatados",
    ReconciliationAction.REMOVE_FAILED: "Falhas ao remover",
    "awaiting_creation": "Novos, aguardando a primeira criação",
    "held_back": "Retidos por cadastro incompleto ou falta de consentimento",
    "changed_during_run": "Sincronizados durante a reconciliação (não comparados)",
}


def runner_label(kind: str) -> str:
    """``kind:host:pid`` — who ran a reconciliation (cli, job, api, web)."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"[:100]


class _LeaseLost(Exception):
    """Another process took the run over (its lease expired): stop without writing."""


def _not_leased(now) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def _shown(field: str, value: str) -> str:
    if field == "status":
        return STATE_LABELS.get(value, value)
    return f"“{value}”" if value else "(vazio)"


def _remote_dict(remote: RemoteUser) -> dict:
    return {
        "status": remote.status.value, "name": remote.name, "email": remote.email, "phone": remote.phone,
        "document": remote.document, "package_code": remote.package_code, "remote_id": remote.remote_id,
    }


class _Reconciliation:
    def __init__(self, run: ReconciliationRun, integration: SvaIntegration, *, actor=None):
        self.run = run
        self.integration = integration
        self.actor = actor
        self.counts: dict[str, int] = {key: 0 for key in COUNT_LABELS}
        self._calls: list[CallRecord] = []
        self.connector = connector_for(integration, recorder=self._calls.append)
        self._items: list[ReconciliationItem] = []

    # -- the run -------------------------------------------------------------------
    def execute(self) -> None:
        walk_started = timezone.now()
        try:
            self._walk()
        except ConnectorError as exc:
            self._flush()
            self._finish(ReconciliationStatus.FAILED, code=exc.code, message=(
                "A plataforma não respondeu à listagem de usuários; nada foi concluído sobre os "
                f"usuários não lidos. {exc.message}"))
            return
        self._missing(walk_started)
        self._flush()
        self._finish(ReconciliationStatus.DONE)

    def close(self) -> None:
        self.connector.close()
        try:
            ReconciliationSeen.objects.filter(run=self.run).delete()
        except DatabaseError:  # the database went away: the next run's start cleans up
            log.exception("reconciliation %s: could not delete its working set", self.run.pk)

    def _walk(self) -> None:
        cursor = None
        while True:
            fetched_at = timezone.now()
            page = self._list(cursor)
            self.counts["pages"] += 1
            self.counts["remote_users"] += len(page.users)
            for start in range(0, len(page.users), CHUNK):
                self._page(page.users[start:start + CHUNK], fetched_at)
            self._flush()
            self._heartbeat()
            cursor = page.next_cursor
            if not cursor:
                return

    def _list(self, cursor):
        for attempt in range(1, LIST_ATTEMPTS + 1):
            self._calls.clear()
            try:
                return self.connector.list_users(cursor, self.run.page_size)
            except ConnectorError as exc:
                if exc.kind not in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED) or attempt == LIST_ATTEMPTS:
                    raise
                time.sleep(min(exc.retry_after or 0.5 * 2 ** attempt, 30.0))
        raise AssertionError("unreachable")

    # -- one page of the platform --------------------------------------------------
    def _page(self, remote_users: list[RemoteUser], fetched_at) -> None:
        ids = [u.external_id for u in remote_users]
        ReconciliationSeen.objects.bulk_create(
            [ReconciliationSeen(run=self.run, external_id=i[:64]) for i in ids], ignore_conflicts=True)
        local = {u.external_id: u for u in sva_user_queryset().filter(integration=self.integration,
                                                                       external_id__in=ids)}
        elsewhere = dict(
            SvaUser.objects.filter(external_id__in=[i for i in ids if i not in local])
            .exclude(integration=self.integration).values_list("external_id", "integration_id")
        )
        for remote in remote_users:
            user = local.get(remote.external_id)
            if user is None:
                self._unknown(remote, elsewhere.get(remote.external_id))
            else:
                self._compare(user, remote, fetched_at)

    def _busy(self, user: SvaUser, since) -> str | None:
        """"pending" when the worker holds or will take the user; "changed" when it wrote
        the user after ``since`` (what we read from the platform may predate that)."""
        if is_pending(user) or (user.claimed_until and user.claimed_until > timezone.now()):
            return "pending"
        if user.last_attempt_at and user.last_attempt_at >= since:
            return "changed"
        return None

    def _compare(self, user: SvaUser, remote: RemoteUser, fetched_at) -> None:
        desired = desired_for(user)
        busy = self._busy(user, fetched_at)
        if busy == "changed":
            self.counts["changed_during_run"] += 1
            return
        if desired.state == SvaState.ABSENT:
            why = "excluído no Agrega" if user.deleted_at else "produto retirado do contrato"
            detail = {"platform": _remote_dict(remote), "agrega": {"state": "absent", "reason": why}}
            if busy == "pending":
                self._item(ReconciliationKind.DELETED_HERE_PRESENT_THERE, ReconciliationAction.ALREADY_PENDING,
                           remote.external_id, user, detail, f"Usuário {why}, ainda na plataforma; a "
                           "remoção já está pendente de sincronização.")
            else:
                self._remove_or_report(ReconciliationKind.DELETED_HERE_PRESENT_THERE, remote, user, detail,
                                       f"Usuário {why}, mas presente na plataforma")
            return

        fields: dict[str, dict] = {}
        if remote.status.value != desired.state:
            fields["status"] = {"agrega": desired.state, "platform": remote.status.value}
        if not user.registration_problems:  # data held back by the registration check is not drift
            for name in DATA_FIELDS:
                if getattr(remote, name) != getattr(desired, name):
                    fields[name] = {"agrega": getattr(desired, name), "platform": getattr(remote, name)}
        if not fields:
            self.counts["in_sync"] += 1
            return
        kind = ReconciliationKind.STATE_DIFFERS if "status" in fields else ReconciliationKind.DATA_DIFFERS
        detail = {"fields": fields, "platform": _remote_dict(remote)}
        described = "; ".join(
            f"{FIELD_LABELS[k]}: Agrega {_shown(k, v['agrega'])}, plataforma {_shown(k, v['platform'])}"
            for k, v in fields.items()
        )
        if busy == "pending":
            self._item(kind, ReconciliationAction.ALREADY_PENDING, remote.external_id, user, detail,
                       f"{described} — já pendente de sincronização.")
        else:
            self._mark(kind, user, detail, described)

    def _unknown(self, remote: RemoteUser, other_integration_id: int | None) -> None:
        detail = {"platform": _remote_dict(remote)}
        if other_integration_id is not None:
            detail["other_integration_id"] = other_integration_id
            self._item(ReconciliationKind.UNKNOWN_ON_PLATFORM, ReconciliationAction.REPORTED, remote.external_id,
                       None, detail, f"Usuário de outra integração do Agrega (ID {other_integration_id}) neste "
                       "prefixo; nunca é removido por esta integração.")
            return
        self._remove_or_report(ReconciliationKind.UNKNOWN_ON_PLATFORM, remote, None, detail,
                               "Usuário no prefixo da integração que o Agrega não conhece")

    # -- what a run does -----------------------------------------------------------
    def _mark(self, kind, user: SvaUser, detail: dict, described: str) -> None:
        """Hand the user to the worker (see the module docstring) in one conditional UPDATE
        that applies only if nobody touched the user since it was read (same version, not
        leased): the worker never sees a half-done correction, and a user is never
        corrected twice. ``creation_attempted`` makes the worker look the user up before
        any creation, and keeps the consent gate (for users never sent) out of the way."""
        with transaction.atomic():  # the user and its queue row (sva/pending.py) together
            updated = (
                SvaUser.objects.filter(pk=user.pk, version=user.version, synced_version__gte=user.version,
                                       pending_work__isnull=True)
                .filter(_not_leased(timezone.now()))
                .update(confirmed_state=SvaState.UNKNOWN, creation_attempted=True,
                        version=F("version") + 1, next_attempt_at=None, changed_at=timezone.now())
            )
            if updated:
                pending.mark([user.pk])
        if not updated:
            self._item(kind, ReconciliationAction.ALREADY_PENDING, user.external_id, user, detail,
                       f"{described} — já pendente de sincronização.")
            return
        record_change(instance=user, action="reconcile_marked", actor=self.actor, changes={
            "reconciliation_run": [None, self.run.pk], "kind": [None, str(kind)],
            "confirmed_state": [user.confirmed_state, str(SvaState.UNKNOWN)],
        })
        self._item(kind, ReconciliationAction.MARKED_FOR_SYNC, user.external_id, user, detail,
                   f"{described} — marcado para sincronizar.")

    def _remove_or_report(self, kind, remote: RemoteUser, user: SvaUser | None, detail: dict, what: str) -> None:
        if not self.run.remove_unknown:
            self._item(kind, ReconciliationAction.REPORTED, remote.external_id, user, detail,
                       f"{what}: relatado (a política da integração não remove).")
            return
        if user is not None and not SvaUser.objects.filter(
            pk=user.pk, version=user.version, synced_version__gte=user.version, pending_work__isnull=True
        ).filter(_not_leased(timezone.now())).exists():
            self._item(kind, ReconciliationAction.ALREADY_PENDING, remote.external_id, user, detail,
                       f"{what}: já pendente de sincronização.")
            return
        self._calls.clear()
        try:
            self.connector.delete_user(remote.external_id)
        except ConnectorError as exc:
            detail = {**detail, "error": {"code": exc.code, "message": exc.message}}
            action, text = ReconciliationAction.REMOVE_FAILED, f"{what}: a remoção falhou — {exc.message}"
        else:
            action, text = ReconciliationAction.REMOVED, f"{what}: removido da plataforma."
        if user is not None:
            self._timeline(user)
        self._item(kind, action, remote.external_id, user, detail, text)

    def _timeline(self, user: SvaUser) -> None:
        """The removal's platform calls in the user's timeline, like the worker's."""
        now = timezone.now()
        SvaCall.objects.bulk_create([
            SvaCall(sva_user_id=user.pk, created_at=now, operation=c.operation[:30], method=c.method[:10],
                    path=c.path[:300], status_code=c.status_code, duration_ms=round(c.duration_ms, 2),
                    request=c.request, response=c.response, error_code=c.error_code[:64],
                    worker=("reconcile:" + self.run.runner)[:64])
            for c in self._calls
        ])
        self._calls.clear()

    def _missing(self, walk_started) -> None:
        """Agrega's users that should be on the platform and were not met in the walk."""
        seen = ReconciliationSeen.objects.filter(run=self.run, external_id=OuterRef("external_id"))
        qs = (
            sva_user_queryset()
            .filter(integration=self.integration, deleted_at__isnull=True,
                    contract_product__removed_at__isnull=True)
            .exclude(Exists(seen))
            .order_by("id")
        )
        last = 0
        while True:
            chunk = list(qs.filter(pk__gt=last)[:CHUNK])
            if not chunk:
                break
            last = chunk[-1].pk
            for user in chunk:
                self._missing_one(user, walk_started)
            self._flush()
            self._heartbeat()

    def _missing_one(self, user: SvaUser, walk_started) -> None:
        desired = desired_for(user)
        if desired.state == SvaState.ABSENT:
            return
        busy = self._busy(user, walk_started)
        if busy == "changed":
            self.counts["changed_during_run"] += 1
            return
        never_sent = not user.creation_attempted and user.confirmed_state == SvaState.ABSENT
        if never_sent and user.registration_problems:
            self.counts["held_back"] += 1  # Agrega itself holds it back (registration, consent)
            return
        if never_sent and busy == "pending":
            self.counts["awaiting_creation"] += 1  # new: the worker has not created it yet
            return
        if never_sent and not busy and user.last_error_code:
            # The platform refused its creation for good (a permanent error: the worker
            # stopped trying until its data changes). Handing it to the worker again
            # would repeat the same refused call every run: reported only.
            self._item(ReconciliationKind.MISSING_ON_PLATFORM, ReconciliationAction.REPORTED, user.external_id,
                       user, {"agrega": {"state": desired.state, "error": user.last_error_code}},
                       f"Ausente na plataforma: criação recusada ({user.last_error_code}) — sem novas "
                       "tentativas até corrigir os dados.")
            return
        detail = {"agrega": {"state": desired.state, "confirmed_state": user.confirmed_state}}
        described = (f"Ausente na plataforma (Agrega: {STATE_LABELS[desired.state]}, último estado "
                     f"confirmado: {STATE_LABELS.get(user.confirmed_state, user.confirmed_state)})")
        if busy == "pending":
            self._item(ReconciliationKind.MISSING_ON_PLATFORM, ReconciliationAction.ALREADY_PENDING,
                       user.external_id, user, detail, f"{described} — já pendente de sincronização.")
        else:
            self._mark(ReconciliationKind.MISSING_ON_PLATFORM, user, detail, described)

    # -- bookkeeping ---------------------------------------------------------------
    def _item(self, kind, action, external_id: str, user: SvaUser | None, detail: dict, message: str) -> None:
        self.counts[str(kind)] += 1
        self.counts["differences"] += 1
        self.counts[str(action)] += 1
        self._items.append(ReconciliationItem(
            run=self.run, external_id=external_id[:64], sva_user=user, kind=kind, action=action,
            message=message[:500], detail=detail,
        ))

    def _flush(self) -> None:
        if self._items:
            ReconciliationItem.objects.bulk_create(self._items)
            self._items = []

    def _heartbeat(self) -> None:
        now = timezone.now()
        alive = ReconciliationRun.objects.filter(pk=self.run.pk, status=ReconciliationStatus.RUNNING).update(
            lease_until=now + timedelta(seconds=LEASE_SECONDS), counts=self.counts)
        if not alive:
            raise _LeaseLost()

    def _finish(self, status: str, *, code: str = "", message: str = "") -> None:
        self.counts["local_users"] = SvaUser.objects.filter(integration=self.integration,
                                                            deleted_at__isnull=True).count()
        updated = ReconciliationRun.objects.filter(pk=self.run.pk, status=ReconciliationStatus.RUNNING).update(
            status=status, finished_at=timezone.now(), lease_until=None, counts=self.counts,
            error_code=code[:64], error_message=message[:500])
        if not updated:
            raise _LeaseLost()


def _start(integration: SvaIntegration, *, runner: str, actor, remove_unknown: bool, page_size: int):
    """Create the run, which is the per-integration lock; refuse if another one runs."""
    now = timezone.now()
    ReconciliationRun.objects.filter(
        integration=integration, status=ReconciliationStatus.RUNNING, lease_until__lt=now,
    ).update(status=ReconciliationStatus.INTERRUPTED, finished_at=now, lease_until=None,
             error_code="lease_expired",
             error_message="A execução parou de responder (prazo esgotado) e foi encerrada por outra.")
    # The working set of runs that ended without cleaning up (process killed, database away).
    ReconciliationSeen.objects.filter(run__integration=integration).exclude(
        run__status=ReconciliationStatus.RUNNING).delete()
    try:
        with transaction.atomic():
            return ReconciliationRun.objects.create(
                integration=integration, runner=runner[:100],
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                actor_label=actor_label(actor), remove_unknown=remove_unknown, page_size=page_size,
                lease_until=now + timedelta(seconds=LEASE_SECONDS),
            )
    except IntegrityError:
        current = ReconciliationRun.objects.filter(
            integration=integration, status=ReconciliationStatus.RUNNING).first()
        raise _running(integration, current) from None


def _running(integration: SvaIntegration, current: ReconciliationRun | None) -> Conflict:
    since = ""
    if current is not None:
        since = (f" (execução {current.pk}, iniciada em "
                 f"{timezone.localtime(current.started_at):%d/%m/%Y %H:%M:%S} por {current.runner})")
    return Conflict(
        "reconcile_running",
        f"Reconciliação já em execução para a integração “{integration.name}”{since}. "
        "Aguarde o fim dela.",
        extra={"running_run_id": current.pk} if current is not None else None,
    )


def reconcile_check(integration: SvaIntegration) -> SvaIntegration:
    """Refuse now what ``reconcile_integration`` would refuse (integration gone or
    inactive, a platform that cannot list its users, another run in progress with a live lease): the pages and the API call it
    before they enqueue the run (sva/tasks.py), so the operator hears it at once."""
    integration = SvaIntegration.objects.filter(pk=integration.pk).first()
    if integration is None:
        raise NotFound("Integração SVA", "integration_not_found")
    if not integration.active:
        raise InvalidTransition("integration_inactive",
                                "A integração está inativa: ative-a para reconciliar seus usuários.")
    if not reconcile_supported(integration):
        raise InvalidTransition("reconcile_not_supported", NOT_SUPPORTED_MESSAGE)
    current = ReconciliationRun.objects.filter(integration=integration, status=ReconciliationStatus.RUNNING,
                                               lease_until__gte=timezone.now()).first()
    if current is not None:
        raise _running(integration, current)
    return integration


# What the reconciliation page and the refusal say when the platform's connector does not
# declare ``list_users`` (e.g. a platform that only receives events).
NOT_SUPPORTED_MESSAGE = ("A plataforma desta integração não informa os usuários que mantém: a reconciliação "
                         "não está disponível para ela.")


def reconcile_supported(integration) -> bool:
    """Whether the integration's platform can list its users (the connector's declaration)."""
    return platform_allows(integration.platform, Capability.LIST_USERS)


def reconcile_integration(
    integration: SvaIntegration,
    *,
    runner: str,
    remove_unknown: bool | None = None,
    actor=None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> ReconciliationRun:
    """Compare the integration's users on the platform with Agrega's and act on each
    difference (see the module docstring). ``remove_unknown`` None follows the
    integration's policy. Returns the finished run (``done``, or ``failed`` when the
    platform could not be listed); raises ``Conflict("reconcile_running")`` when another
    run of this integration is in progress, on this machine or another."""
    integration = SvaIntegration.objects.filter(pk=integration.pk).first()
    if integration is None:
        raise NotFound("Integração SVA", "integration_not_found")
    if not integration.active:
        raise InvalidTransition("integration_inactive",
                                "A integração está inativa: ative-a para reconciliar seus usuários.")
    if not platform_allows(integration.platform, Capability.LIST_USERS):
        raise InvalidTransition("reconcile_not_supported", NOT_SUPPORTED_MESSAGE)
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    remove = integration.reconcile_remove_unknown if remove_unknown is None else bool(remove_unknown)
    run = _start(integration, runner=runner, actor=actor, remove_unknown=remove, page_size=page_size)
    work = _Reconciliation(run, integration, actor=actor)
    try:
        work.execute()
    except _LeaseLost:
        pass  # another run took over after our lease expired; it has the final word
    except BaseException as exc:
        try:
            ReconciliationRun.objects.filter(pk=run.pk, status=ReconciliationStatus.RUNNING).update(
                status=ReconciliationStatus.FAILED, finished_at=timezone.now(), lease_until=None,
                counts=work.counts, error_code="internal_error",
                error_message=f"Erro interno na reconciliação: {type(exc).__name__}."[:500])
        except DatabaseError:  # e.g. the connection dropped: the lease will expire instead
            log.exception("reconciliation %s: could not record its failure", run.pk)
        raise
    finally:
        work.close()
    run.refresh_from_db()
    return run


def reconcile_job() -> dict:
    """The periodic job ``sva.reconcile``: every active integration, one after the other.
    An integration already being reconciled elsewhere is skipped. Reports older than
    ``settings.RECONCILE_KEEP_DAYS`` (default 90) are deleted."""
    keep_days = int(getattr(settings, "RECONCILE_KEEP_DAYS", KEEP_DAYS))
    purged, _ = ReconciliationRun.objects.exclude(status=ReconciliationStatus.RUNNING).filter(
        started_at__lt=timezone.now() - timedelta(days=keep_days)).delete()
    runner = runner_label("job")
    runs, skipped = [], []
    for integration in SvaIntegration.objects.filter(active=True).order_by("id"):
        try:
            run = reconcile_integration(integration, runner=runner)
        except ApplicationError as exc:
            skipped.append({"integration_id": integration.pk, "code": exc.code})
            continue
        runs.append({"integration_id": integration.pk, "run_id": run.pk, "status": run.status,
                     "differences": run.counts.get("differences", 0)})
    return {"runs": runs, "skipped": skipped, "purged_rows": purged}


# -- reads (API, pages, CLI) -------------------------------------------------------------


def reconciliation_run_list(*, integration_id: int | None = None, status: str | None = None
                            ) -> QuerySet[ReconciliationRun]:
    """The runs as ``ReconciliationRunFilterSet`` (sva/filtersets.py) filters them, values already valid."""
    from agrega.sva.filtersets import ReconciliationRunFilterSet

    return ReconciliationRunFilterSet.filtered({"integration_id": integration_id, "status": status or None})


def reconciliation_run_get(pk: int) -> ReconciliationRun | None:
    return ReconciliationRun.objects.select_related("integration").filter(pk=pk).first()


def reconciliation_item_list(*, run_id: int, kind: str | None = None, action: str | None = None
                             ) -> QuerySet[ReconciliationItem]:
    """A run's differences as ``ReconciliationItemFilterSet`` (sva/filtersets.py) filters them,
    values already valid."""
    from agrega.sva.filtersets import ReconciliationItemFilterSet

    filterset = ReconciliationItemFilterSet(run_id=run_id)
    return filterset.apply(filterset.base(), {k: v for k, v in (("kind", kind), ("action", action)) if v})


def count_rows(run: ReconciliationRun) -> list[tuple[str, str, int]]:
    """(key, label, value) of a run's counts, in display order."""
    return [(key, label, int(run.counts.get(key, 0))) for key, label in COUNT_LABELS.items()]
