"""API tokens for programs. Only a hash is stored; the token is shown once."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField("nome", max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "token de API"
        verbose_name_plural = "tokens de API"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @classmethod
    def issue(cls, *, user, name: str) -> tuple["ApiToken", str]:
        """Create a token and return it with its raw value (the only time it is known)."""
        raw = "agr_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(raw), key_prefix=raw[:12])
        return token, raw


class ChangeRecord(models.Model):
    """Who changed what, for objects without a history of their own (contracts keep
    theirs in ContractEvent). Values of secrets are never stored."""

    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=40)
    action = models.CharField(max_length=30)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "alteração"
        verbose_name_plural = "alterações"
        indexes = [models.Index(fields=["object_type", "object_id", "-id"], name="change_record_object")]


class ScheduledJob(models.Model):
    """One periodic job (billing run, dunning sweep, …) and its last outcome. Runners on
    several machines claim a due job with one conditional UPDATE, so each run happens
    once (agrega/core/jobs.py)."""

    name = models.CharField(max_length=80, unique=True)
    next_run_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=64, blank=True)
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.FloatField(null=True, blank=True)
    last_ok = models.BooleanField(null=True)
    last_result = models.JSONField(default=dict, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "tarefa periódica"
        verbose_name_plural = "tarefas periódicas"

    def __str__(self) -> str:
        return self.name


class LoginFailure(models.Model):
    """A failed password login, for throttling (agrega/core/throttle.py). Kept in the
    database so every web process and machine counts the same attempts."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.CharField(max_length=45, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "falha de login"
        verbose_name_plural = "falhas de login"


class IdempotencyRecord(models.Model):
    """The answer given to a POST with an ``Idempotency-Key``, replayed to the client's
    retries (agrega/core/idempotency.py). Stored in the request's own transaction, so
    the action and its record commit together or not at all."""

    owner = models.CharField(max_length=64)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="uniq_idempotency_key")]


class TaskWorkerBeat(models.Model):
    """The heartbeat of one task-worker process (agrega/core/tasks.py). django-tasks-db
    leaves a task RUNNING forever when its worker dies; a task whose worker has been
    silent longer than ``TASK_LEASE_SECONDS`` is queued again by the next live worker."""

    worker_id = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "processo de tarefas"
        verbose_name_plural = "processos de tarefas"

    def __str__(self) -> str:
        return self.worker_id
