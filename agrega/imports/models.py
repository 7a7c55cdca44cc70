"""Importação de clientes e contratos (CSV): the job, its file, one row per line of the
file, and the natural keys already imported (which make a re-import apply nothing twice).

docs/imports.md documents the layout and the guarantees."""

from django.conf import settings
from django.db import models


class ImportKind(models.TextChoices):
    CUSTOMERS_CONTRACTS = "customers_contracts", "Clientes e contratos"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Enviada"
    VALIDATING = "validating", "Validando (simulação)"
    VALIDATED = "validated", "Simulação pronta"
    RUNNING = "running", "Importando"
    PAUSED = "paused", "Pausada"
    DONE = "done", "Concluída"
    FAILED = "failed", "Interrompida por erro"


class ImportJob(models.Model):
    """One file to import. ``next_index`` is the resume point: the number of the file's
    records already settled (applied, rejected or skipped), committed in the same
    transaction as their effects, so a killed import continues exactly there."""

    kind = models.CharField("tipo", max_length=30, choices=ImportKind.choices,
                            default=ImportKind.CUSTOMERS_CONTRACTS)
    file_name = models.CharField("arquivo", max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField("codificação", max_length=20, blank=True)
    delimiter = models.CharField("separador", max_length=1, blank=True)
    headers = models.JSONField("cabeçalhos do arquivo", default=list, blank=True)
    mapping = models.JSONField("mapeamento de colunas", default=dict, blank=True)
    status = models.CharField(max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    total_lines = models.PositiveIntegerField("linhas", default=0)
    validated_index = models.PositiveIntegerField(default=0)
    next_index = models.PositiveIntegerField(default=0)
    applied = models.PositiveIntegerField("importadas", default=0)
    rejected = models.PositiveIntegerField("rejeitadas", default=0)
    skipped_duplicate = models.PositiveIntegerField("já importadas", default=0)
    warnings = models.PositiveIntegerField("com avisos", default=0)
    customers_created = models.PositiveIntegerField("clientes criados", default=0)
    report = models.JSONField("relatório da simulação", default=dict, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    runner = models.CharField(max_length=120, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_by_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "importação"
        verbose_name_plural = "importações"

    def __str__(self) -> str:
        return f"Importação {self.pk} ({self.file_name})"

    @property
    def processed(self) -> int:
        return self.applied + self.rejected + self.skipped_duplicate

    @property
    def percent(self) -> int:
        if self.status in (ImportStatus.VALIDATING, ImportStatus.UPLOADED):
            done = self.validated_index
        else:
            done = self.next_index
        return int(100 * done / self.total_lines) if self.total_lines else 100


class ImportFile(models.Model):
    """The file's bytes, kept apart so lists and progress polls never load them."""

    job = models.OneToOneField(ImportJob, on_delete=models.CASCADE, primary_key=True, related_name="file")
    content = models.BinaryField()

    class Meta:
        verbose_name = "arquivo de importação"
        verbose_name_plural = "arquivos de importação"


class RowStatus(models.TextChoices):
    APPLIED = "applied", "Importada"
    REJECTED = "rejected", "Rejeitada"
    SKIPPED_DUPLICATE = "skipped_duplicate", "Já importada"


class ImportRow(models.Model):
    """What happened to one record of the file (``index``: 0-based record; ``line``: its
    line in the file, the header being line 1)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    index = models.PositiveIntegerField()
    line = models.PositiveIntegerField("linha")
    ref = models.CharField("contrato de origem", max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=RowStatus.choices)
    messages = models.JSONField(default=list, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True)
    customer_created = models.BooleanField(default=False)
    contract_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "index"]
        verbose_name = "linha importada"
        verbose_name_plural = "linhas importadas"
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="import_row_once_per_job")]
        indexes = [models.Index(fields=["job", "status", "index"], name="import_row_status")]


class ExternalRef(models.Model):
    """A natural key of the ISP's former system (the contract number) and the object it
    became here. Unique per kind: a reference is imported once, whatever the file."""

    class Kind(models.TextChoices):
        CONTRACT = "contract", "Contrato"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    ref = models.CharField(max_length=100)
    object_id = models.BigIntegerField()
    job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    line = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "referência externa"
        verbose_name_plural = "referências externas"
        constraints = [models.UniqueConstraint(fields=["kind", "ref"], name="external_ref_once")]
        indexes = [models.Index(fields=["kind", "object_id"], name="external_ref_object")]
