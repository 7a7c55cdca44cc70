"""Status codes that operators of Brazilian ISP systems already know."""

from django.db import models


class ContractStatus(models.TextChoices):
    PRE_CONTRACT = "P", "Pré-contrato"
    ACTIVE = "A", "Ativo"
    INACTIVE = "I", "Inativo"
    NEGATIVADO = "N", "Negativado"
    CANCELLED = "D", "Desistiu / cancelado"


class AccessStatus(models.TextChoices):
    ACTIVE = "A", "Ativo"
    DISABLED = "D", "Desativado"
    MANUAL_BLOCK = "CM", "Bloqueio manual"
    AUTOMATIC_BLOCK = "CA", "Bloqueio automático"
    OVERDUE = "FA", "Financeiro em atraso"
    AWAITING_SIGNATURE = "AA", "Aguardando assinatura"


class ProductKind(models.TextChoices):
    SVA = "SVA", "SVA"
    OTHER = "OUTRO", "Outro"


class ContractAction(models.TextChoices):
    CREATE = "create", "Criação"
    ACTIVATE = "activate", "Ativação"
    BLOCK_MANUAL = "block_manual", "Bloqueio manual"
    BLOCK_AUTOMATIC = "block_automatic", "Bloqueio automático"
    MARK_OVERDUE = "mark_overdue", "Financeiro em atraso"
    RELEASE = "release", "Desbloqueio"
    DEACTIVATE = "deactivate", "Inativação"
    CANCEL = "cancel", "Cancelamento"
    ADD_PRODUCT = "add_product", "Produto incluído"
    REMOVE_PRODUCT = "remove_product", "Produto removido"
    RESCIND = "rescind", "Rescisão por débito"
    DUNNING_NOTICE = "dunning_notice", "Aviso de débito"
    DUNNING_STAGE = "dunning_stage", "Régua de cobrança"
    PAYMENT_RELEASE = "payment_release", "Desbloqueio por pagamento"
    TRUST_RELEASE = "trust_release", "Desbloqueio de confiança"
    TRUST_EXPIRED = "trust_expired", "Fim do desbloqueio de confiança"
    CONSENT_RECORDED = "consent_recorded", "Consentimento registrado"
    CONSENT_REVOKED = "consent_revoked", "Consentimento revogado"
