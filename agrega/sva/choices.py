from django.db import models


class SvaState(models.TextChoices):
    """States of an SVA user, as desired by Agrega or as confirmed by the platform."""

    ACTIVE = "active", "Ativo"
    BLOCKED = "blocked", "Bloqueado"
    ABSENT = "absent", "Inexistente"
    UNKNOWN = "unknown", "Desconhecido"


class SvaOrigin(models.TextChoices):
    AUTOMATIC = "automatic", "Automática"
    MANUAL = "manual", "Manual"


class SyncStatus(models.TextChoices):
    """What an operator needs to know at a glance (derived, see selectors)."""

    SYNCED = "synced", "Sincronizado"
    PENDING = "pending", "Pendente"
    RETRYING = "retrying", "Aguardando nova tentativa"
    REGISTRATION = "registration", "Cadastro incompleto"
    ERROR = "error", "Erro"
    REMOVED = "removed", "Removido"
