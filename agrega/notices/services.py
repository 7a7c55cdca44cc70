"""Customer notices: the integration's texts (validated on save), writing the outbox from
the platform-confirmed state, and sending it with Django's e-mail backends.

* ``enqueue_state_notices()`` compares each SVA user's ``confirmed_state`` with the
  ``notified_state`` the customer was last told about, renders the notices of a batch
  outside any transaction and, in a short one per batch, writes them and moves
  ``notified_state`` (for the users whose state did not change meanwhile): ACTIVE after absent → created;
  BLOCKED after ACTIVE → blocked; ACTIVE after BLOCKED → released. A user created
  directly blocked, removed, or deleted in Agrega moves ``notified_state`` silently.
* ``enqueue_debt_notices()`` turns the régua's debt notices (dunning's DunningNotice,
  written by the sweep) into outbox e-mails, scanning forward by primary key from a
  cursor (``DebtNoticeCursor``): the sweep's table has no other index. A contract moved
  several stages at once gets one e-mail (its highest stage).
* ``send_pending_notices()`` sends what is due. A failure keeps the error and retries
  with backoff up to ``MAX_ATTEMPTS``; nothing here ever raises into its caller.

Both are safe to run from several processes (rows are claimed) and are what the periodic
job runner calls (``agrega.notices.jobs.run``); ``agrega notices run`` runs them once.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from agrega.contracts.choices import ContractAction
from agrega.contracts.services import contract_history_note
from agrega.core.audit import actor_label, record_change
from agrega.core.br import InvalidValue, clean_email
from agrega.core.errors import Conflict, FieldErrors
from agrega.core.money import format_brl
from agrega.dunning import selectors as dunning_selectors
from agrega.dunning import services as dunning_services
from agrega.sva.choices import SvaState
from agrega.sva.models import SvaUser
from agrega.sva.services import sva_users_mark_notified

from . import selectors
from .models import (DEBT_EVENT, CustomerNotice, DebtNoticeCursor, NoticeEvent, NoticeSettings, NoticeStatus,
                     NoticeTemplate)
from .rendering import (DEBT_DEFAULT, DEBT_NEXT, DEBT_NOW, DEFAULT_HOW_TO_USE, DEFAULTS, SAMPLE_CONTEXT, VARIABLES,
                        TemplateProblem, one_line, render)

log = logging.getLogger("agrega.notices")

MAX_ATTEMPTS = 6
BACKOFF_SECONDS = (60, 300, 900, 3600, 4 * 3600)
CLAIM_SECONDS = 300
ENQUEUE_BATCH = 500
_HOW_TO_USE_VARIABLES = set(VARIABLES) - {"como_usar"}


# -- texts ----------------------------------------------------------------------------------


def _check(errors: FieldErrors, field: str, text: str, *, allowed=None, required=True, how_to_use: str = ""):
    """Render ``text`` with the sample values (``como_usar``: the instructions being saved,
    so their size counts); the rendered text, or "" after adding the problem to ``errors``."""
    if not text.strip():
        if required:
            errors.add(field, "template_required", "Informe o texto.")
        return ""
    context = dict(SAMPLE_CONTEXT, como_usar=how_to_use or "(instruções)")
    try:
        return render(text, context, allowed=allowed)
    except TemplateProblem as exc:
        errors.add(field, exc.code, exc.message)
    except Exception as exc:  # a filter that fails on the sample values, e.g. a bad argument
        errors.add(field, "template_render_error", f"O modelo não pôde ser montado: {type(exc).__name__}: {exc}")
    return ""


@transaction.atomic
def notice_texts_save(*, integration, events: dict, how_to_use: str = "", actor=None) -> None:
    """Save the integration's texts: ``events`` = {event: {enabled, subject, body}} and
    ``how_to_use`` ("" = the default). Every template is compiled and rendered with sample
    values first: a syntax error, an unknown variable or a forbidden tag is refused with
    the field named (e.g. ``blocked.body``) and nothing is saved. A text equal to the
    default (and enabled) is stored as "use the default"."""
    errors = FieldErrors()
    unknown = set(events) - set(NoticeEvent.values)
    for event in sorted(unknown):
        errors.add(event, "event_unknown", f"Evento desconhecido: {event}.")
    how_to_use = (how_to_use or "").replace("\r\n", "\n").strip()
    sample_how_to_use = _check(errors, "how_to_use", how_to_use or DEFAULT_HOW_TO_USE,
                               allowed=_HOW_TO_USE_VARIABLES, required=False).strip()
    cleaned = {}
    for event, data in events.items():
        if event in unknown:
            continue
        subject = (data.get("subject") or "").strip()
        body = (data.get("body") or "").replace("\r\n", "\n").strip()
        if "\n" in subject:
            errors.add(f"{event}.subject", "subject_multiline", "O assunto deve ter uma linha.")
        elif len(subject) > 200:
            errors.add(f"{event}.subject", "subject_too_long", "Assunto: no máximo 200 caracteres.")
        _check(errors, f"{event}.subject", subject, how_to_use=sample_how_to_use)
        _check(errors, f"{event}.body", body, how_to_use=sample_how_to_use)
        cleaned[event] = (subject, body, bool(data.get("enabled", True)))
    errors.raise_if_any("Modelo de aviso inválido: corrija os campos indicados. Nada foi salvo.")

    who = actor_label(actor)
    changes = {}
    for event, (subject, body, enabled) in cleaned.items():
        default_subject, default_body = DEFAULTS[event]
        existing = NoticeTemplate.objects.filter(integration=integration, event=event).first()
        if enabled and subject == default_subject and body == default_body.strip():
            if existing:
                existing.delete()
                changes[event] = ["personalizado", "padrão"]
            continue
        if existing and (existing.subject, existing.body, existing.enabled) == (subject, body, enabled):
            continue
        NoticeTemplate.objects.update_or_create(
            integration=integration, event=event,
            defaults={"subject": subject, "body": body, "enabled": enabled, "updated_by_label": who},
        )
        changes[event] = ["padrão" if existing is None else "personalizado",
                          "personalizado" if enabled else "desativado"]
    own = "" if how_to_use == DEFAULT_HOW_TO_USE.strip() else how_to_use
    current = NoticeSettings.objects.filter(integration=integration).first()
    if (current.how_to_use if current else "") != own:
        NoticeSettings.objects.update_or_create(integration=integration,
                                                defaults={"how_to_use": own, "updated_by_label": who})
        changes["how_to_use"] = ["alterado", "padrão" if not own else "personalizado"]
    if changes:
        record_change(instance=integration, action="notice_texts", actor=actor, changes=changes)


def render_notice(integration, event: str, values: dict, texts: dict | None = None) -> tuple[str, str]:
    """(subject, body) of ``event`` for ``values`` (selectors.notice_values)."""
    texts = texts or selectors.integration_texts(integration)
    text = texts["events"][event]
    context = dict(values)
    context["como_usar"] = render(texts["how_to_use"], values, allowed=_HOW_TO_USE_VARIABLES).strip()
    return one_line(render(text["subject"], context)), render(text["body"], context).strip() + "\n"


def preview_notice(*, integration, event: str, subject: str, body: str, how_to_use: str = "") -> dict:
    """The notice as a customer would read it (sample values), or the template problem."""
    texts = {"how_to_use": how_to_use.strip() or DEFAULT_HOW_TO_USE,
             "events": {event: {"subject": subject, "body": body}}}
    try:
        rendered = render_notice(integration, event,
                                 dict(SAMPLE_CONTEXT, plataforma=selectors.platform_label(integration)), texts)
    except TemplateProblem as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    except Exception as exc:
        return {"ok": False, "code": "template_render_error", "message": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "subject": rendered[0], "body": rendered[1]}


# -- the outbox: writing ------------------------------------------------------------------


def _event_for(told: str, now: str) -> str | None:
    """The notice a change of the confirmed state gives (None: move silently)."""
    if now == SvaState.ACTIVE:
        return NoticeEvent.RELEASED if told == SvaState.BLOCKED else NoticeEvent.CREATED
    if now == SvaState.BLOCKED and told == SvaState.ACTIVE:
        return NoticeEvent.BLOCKED
    return None  # created directly blocked, or removed: nothing the customer can use to tell


def _to_tell():
    """Users whose confirmed state moved away from what the customer was told."""
    return SvaUser.objects.exclude(confirmed_state=F("notified_state")).exclude(confirmed_state=SvaState.UNKNOWN)


def _notice_for(user: SvaUser, event: str, texts: dict, now) -> CustomerNotice:
    values = selectors.notice_values(user)
    notice = CustomerNotice(sva_user=user, event=event, to=values["email"], status=NoticeStatus.PENDING,
                            next_attempt_at=now)
    try:
        notice.subject, notice.body = render_notice(user.integration, event, values, texts)
    except Exception as exc:  # texts are checked on save; a failure here is kept, not retried
        notice.subject = f"{NoticeEvent(event).label}: {values['produto']}"[:250]
        notice.body = ""
        notice.status, notice.next_attempt_at = NoticeStatus.FAILED, None
        notice.last_error = f"Modelo do aviso não pôde ser montado: {type(exc).__name__}: {exc}"[:500]
        return notice
    try:
        notice.to = clean_email(values["email"])
    except InvalidValue as exc:
        notice.status, notice.next_attempt_at = NoticeStatus.SKIPPED, None
        notice.last_error = f"Cliente sem e-mail válido ({values['email'] or 'vazio'}): {exc.message}"[:500]
    return notice


def _enqueue_batch(counts: Counter) -> int:
    """One batch: the users read and their notices rendered **outside** any transaction,
    then written in a short one that keeps only the users still in the state that was
    read (a change meanwhile is told next time; another runner that wrote them first
    wins). Why: rendering a batch costs a few queries per user, and a transaction around
    it held SQLite's single write lock for seconds (a batch of releases after a burst of
    Pix: 7–22 s), during which the PSP's callbacks into the web could not be recorded
    (bench/README.md, payment_to_access)."""
    now = timezone.now()
    users = list(_to_tell().select_related("integration", "contract__customer", "contract_product__product")
                 .order_by("id")[:ENQUEUE_BATCH])
    if not users:
        return 0
    texts: dict[int, dict] = {}
    read: dict[int, tuple[str, str]] = {}
    planned: dict[int, tuple[CustomerNotice | None, str]] = {}  # user → (its notice, the count it adds)
    for user in users:
        read[user.pk] = (user.notified_state, user.confirmed_state)
        event = _event_for(user.notified_state, user.confirmed_state)
        if event is None or user.deleted_at is not None:
            planned[user.pk] = (None, "silent")
            continue
        if user.integration_id not in texts:
            texts[user.integration_id] = selectors.integration_texts(user.integration)
        if not texts[user.integration_id]["events"][event]["enabled"]:
            planned[user.pk] = (None, "disabled")
            continue
        planned[user.pk] = (_notice_for(user, event, texts[user.integration_id], now), event)
    with transaction.atomic():
        current = SvaUser.objects.filter(pk__in=list(read))
        if connection.vendor == "postgresql":
            current = current.select_for_update(of=("self",))  # a second runner waits, then finds them told
        unchanged = [pk for pk, notified, confirmed in current.values_list("pk", "notified_state", "confirmed_state")
                     if read[pk] == (notified, confirmed)]
        notices, moved = [], {}
        for pk in unchanged:
            notice, count = planned[pk]
            moved.setdefault(read[pk][1], []).append(pk)
            counts[count] += 1
            if notice is not None:
                notices.append(notice)
                if notice.status == NoticeStatus.SKIPPED:
                    counts["skipped"] += 1
        CustomerNotice.objects.bulk_create(notices)
        # What was told is what was read: a change after the read is told next time.
        for state, ids in moved.items():
            sva_users_mark_notified(ids=ids, state=state)
    return len(users)


def _batches(enqueue_batch, most: int) -> tuple[int, Counter]:
    """Run ``enqueue_batch(counts)`` until a batch comes back short or ``most`` rows
    were seen: (rows seen, counts)."""
    counts: Counter = Counter()
    seen = 0
    while seen < most:
        done = enqueue_batch(counts)
        seen += done
        if done < ENQUEUE_BATCH:
            break
    return seen, counts


def enqueue_state_notices(*, max_users: int = 20_000) -> dict:
    """Write the notices of every SVA user whose confirmed state changed since the
    customer was last told (see the module docstring). Returns counts per event."""
    seen, counts = _batches(_enqueue_batch, max_users)
    return {"users": seen, **counts}


# -- the outbox: the régua's debt notices ------------------------------------------------

NO_EMAIL = "Cliente sem e-mail válido"
PAID_BEFORE_SENDING = "Contrato regularizado antes do envio: aviso não enviado"


def _debt_notice(facts, now) -> CustomerNotice:
    today = timezone.localdate(now)
    context = {
        "cliente": facts.customer_name, "contrato": str(facts.contract_id), "valor": format_brl(facts.overdue_amount),
        "vencimento": f"{facts.oldest_due:%d/%m/%Y}", "situacao": DEBT_NOW.get(facts.action, ""),
        "proxima_etapa": DEBT_NEXT.get(facts.next_action, "") if facts.next_date else "",
        "proxima_data": f"{facts.next_date:%d/%m/%Y}" if facts.next_date else "",
        "dias": max((facts.next_date - today).days, 1) if facts.next_date else 0,
    }
    notice = CustomerNotice(contract_id=facts.contract_id, dunning_notice_id=facts.id, event=DEBT_EVENT,
                            to=facts.customer_email, status=NoticeStatus.PENDING, next_attempt_at=now,
                            subject=one_line(render(DEBT_DEFAULT[0], context, allowed=set(context))),
                            body=render(DEBT_DEFAULT[1], context, allowed=set(context)).strip() + "\n")
    try:
        notice.to = clean_email(facts.customer_email)
    except InvalidValue as exc:
        notice.status, notice.next_attempt_at = NoticeStatus.SKIPPED, None
        notice.last_error = f"{NO_EMAIL} ({facts.customer_email or 'vazio'}): {exc.message}"[:500]
    return notice


def _cursor() -> DebtNoticeCursor:
    try:
        return DebtNoticeCursor.objects.get_or_create(pk=1)[0]  # the migration writes it; a flushed test db may not
    except IntegrityError:  # another runner created it first
        return DebtNoticeCursor.objects.get(pk=1)


def _enqueue_debt_batch(counts: Counter) -> int:
    """One batch after the cursor: read and rendered outside any transaction, then written
    in a short one that moves the cursor only from where it was read (compare-and-set):
    a second runner that read the same cursor writes nothing (its UPDATE waits for the
    first one's row lock on PostgreSQL, then matches no row)."""
    now = timezone.now()
    start = _cursor().last_id
    facts = dunning_selectors.debt_notices_after(
        start, limit=ENQUEUE_BATCH, today=timezone.localdate(now),
        created_before=now - timedelta(seconds=settings.DEBT_NOTICE_SETTLE_SECONDS))
    if not facts:
        return 0
    chosen: dict[int, object] = {}  # contract → its highest stage's notice in this batch
    for f in facts:
        if f.contract_id not in chosen or (f.level, f.id) > (chosen[f.contract_id].level, chosen[f.contract_id].id):
            chosen[f.contract_id] = f
    notices = [_debt_notice(f, now) for f in chosen.values()]
    merged: dict[int, list[int]] = {}
    for f in facts:
        if chosen[f.contract_id].id != f.id:
            merged.setdefault(chosen[f.contract_id].id, []).append(f.id)
    with transaction.atomic():
        if not DebtNoticeCursor.objects.filter(pk=1, last_id=start).update(last_id=facts[-1].id):
            return 0  # another runner turned them into e-mails
        CustomerNotice.objects.bulk_create(notices)
        for kept, ids in merged.items():
            dunning_services.debt_notices_mark(ids, send_error=f"Reunido no aviso de débito {kept}")
        skipped = [n for n in notices if n.status == NoticeStatus.SKIPPED]
        for notice in skipped:
            dunning_services.debt_notices_mark([notice.dunning_notice_id], send_error=NO_EMAIL)
            contract_history_note(contract=notice.contract_id, action=ContractAction.DUNNING_NOTICE,
                                  detail={"note": f"aviso de débito não enviado: {NO_EMAIL.lower()}"})
    counts["debt"] += len(notices) - len(skipped)
    counts["skipped"] += len(skipped)
    return len(facts)


def enqueue_debt_notices(*, max_notices: int = 20_000) -> dict:
    """Turn the debt notices the sweep wrote since the last run into outbox e-mails."""
    seen, counts = _batches(_enqueue_debt_batch, max_notices)
    return {"notices": seen, **counts}


# -- the outbox: sending ------------------------------------------------------------------


def _due(now):
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return CustomerNotice.objects.filter(free, status__in=[NoticeStatus.PENDING, NoticeStatus.FAILED],
                                         next_attempt_at__lte=now)


def _claim(limit: int, now) -> list[int]:
    with transaction.atomic():
        qs = _due(now).order_by("next_attempt_at", "id").values_list("id", flat=True)
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs[:limit])
        CustomerNotice.objects.filter(pk__in=ids).update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    return ids


def _failed(notice: CustomerNotice, error: str, now) -> None:
    attempts = notice.attempts + 1
    retry = attempts < MAX_ATTEMPTS
    delay = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
    CustomerNotice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.FAILED, attempts=attempts, last_error=error[:500], claimed_until=None,
        next_attempt_at=now + timedelta(seconds=delay) if retry else None,
    )
    if notice.dunning_notice_id:
        dunning_services.debt_notices_mark([notice.dunning_notice_id], send_error=error)


def _message(notice: CustomerNotice, mail):
    """The e-mail of ``notice``. A blocked notice carries the PIX (copia-e-cola and QR
    code) of the contract's oldest open título with an active cobv, read now, when it
    is sent: a título paid since it was written is not offered."""
    pix = None
    if notice.event == NoticeEvent.BLOCKED:
        pix = selectors.contract_open_pix_part(notice.sva_user.contract_id)
    elif notice.event == DEBT_EVENT:
        pix = selectors.contract_open_pix_part(notice.contract_id)
    return selectors.email_with_pix(subject=notice.subject, body=notice.body, to=[notice.to], pix=pix,
                                    from_email=settings.DEFAULT_FROM_EMAIL, connection=mail)


def send_pending_notices(*, limit: int = 100) -> dict:
    """Send up to ``limit`` due notices with the configured e-mail backend
    (``settings.EMAIL_BACKEND``). Never raises: errors are recorded on the notices (and
    logged) and retried later, so a mail server that is down breaks nothing."""
    counts: Counter = Counter()
    try:
        now = timezone.now()
        ids = _claim(limit, now)
        if not ids:
            return {"sent": 0, "failed": 0}
        notices = list(CustomerNotice.objects.filter(pk__in=ids).select_related("sva_user").order_by("id"))
        mail = get_connection(fail_silently=False)
        try:
            mail.open()
        except Exception as exc:
            error = f"Servidor de e-mail indisponível: {type(exc).__name__}: {exc}"
            log.warning("notices: %s", error)
            for notice in notices:
                _failed(notice, error, now)
            counts["failed"] += len(notices)
            return {"sent": 0, **counts}
        try:
            for notice in notices:
                if notice.dunning_notice_id and not dunning_selectors.debt_notice_still_owed(notice.dunning_notice_id):
                    CustomerNotice.objects.filter(pk=notice.pk).update(
                        status=NoticeStatus.SKIPPED, last_error=PAID_BEFORE_SENDING, next_attempt_at=None,
                        claimed_until=None)
                    dunning_services.debt_notices_mark([notice.dunning_notice_id], send_error=PAID_BEFORE_SENDING)
                    counts["skipped"] += 1
                    continue
                try:
                    sent = _message(notice, mail).send()
                    if not sent:
                        raise RuntimeError("o servidor de e-mail não aceitou a mensagem")
                except Exception as exc:
                    _failed(notice, f"{type(exc).__name__}: {exc}", timezone.now())
                    counts["failed"] += 1
                    continue
                CustomerNotice.objects.filter(pk=notice.pk).update(
                    status=NoticeStatus.SENT, attempts=notice.attempts + 1, sent_at=timezone.now(),
                    last_error="", next_attempt_at=None, claimed_until=None,
                )
                if notice.dunning_notice_id:
                    _debt_sent(notice)
                counts["sent"] += 1
        finally:
            try:
                mail.close()
            except Exception:
                pass
    except Exception:  # the database away, a bug: never into the caller (a job, a command)
        log.exception("notices: sending failed")
        counts["error"] += 1
    return {"sent": counts["sent"], "failed": counts["failed"],
            **({"skipped": counts["skipped"]} if counts["skipped"] else {}),
            **({"error": 1} if counts["error"] else {})}


def _debt_sent(notice: CustomerNotice) -> None:
    """The régua's notice is marked sent and the contract's Histórico says so."""
    with transaction.atomic():
        dunning_services.debt_notices_mark([notice.dunning_notice_id], sent_at=timezone.now())
        contract_history_note(contract=notice.contract_id, action=ContractAction.DUNNING_NOTICE,
                              detail={"note": f"aviso de débito enviado por e-mail para {notice.to}"})


@transaction.atomic
def notice_retry(*, notice: CustomerNotice, actor=None) -> CustomerNotice:
    """"Reenviar": a failed notice goes back to the outbox now (one more attempt)."""
    if notice.status != NoticeStatus.FAILED:
        raise Conflict("notice_not_failed", "Só um aviso que falhou pode ser reenviado.")
    CustomerNotice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.PENDING, next_attempt_at=timezone.now(), claimed_until=None)
    record_change(instance=notice, action="retry", actor=actor)
    notice.refresh_from_db()
    return notice
