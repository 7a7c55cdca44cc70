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


class SvaOperation(models.TextChoices):
    """The connectors' operation codes (``SvaCall.operation``), as the timeline names them."""

    CREATE_USER = "create_user", "Criar usuário"
    GET_USER = "get_user", "Consultar usuário"
    UPDATE_USER = "update_user", "Alterar usuário"
    BLOCK_USER = "block_user", "Bloquear"
    UNBLOCK_USER = "unblock_user", "Desbloquear"
    DELETE_USER = "delete_user", "Excluir"
    AUTH_TOKEN = "auth_token", "Autenticar"
    LIST_PACKAGES = "list_packages", "Listar pacotes"
    LIST_USERS = "list_users", "Listar usuários"
    CHECK_CREDENTIALS = "check_credentials", "Verificar credenciais"


def operation_label(code: str) -> str:
    """The Portuguese name of an operation code; the code itself when it has none."""
    try:
        return SvaOperation(code).label
    except ValueError:
        return code
