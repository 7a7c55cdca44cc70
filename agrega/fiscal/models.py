"""NFCom (modelo 62): the emitter, its séries, the fiscal data of each product, the
dated tax rules, and one document per título with its state and XML.

Tax rules are rows with a validity window, not code: a document and a report use the
rules in force on their date, so the 2026 test rates and the later transition of the
tax reform (LC 214/2025) are data the ISP's accountant can check and correct."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q


class Environment(models.IntegerChoices):
    PRODUCTION = 1, "Produção"
    HOMOLOGATION = 2, "Homologação"


class Crt(models.IntegerChoices):
    SIMPLES = 1, "Simples Nacional"
    SIMPLES_EXCESS = 2, "Simples Nacional — excesso de sublimite"
    NORMAL = 3, "Regime normal"


class Emitter(models.Model):
    """The ISP as the NFCom emitter: one row (pk 1). The A1 certificate is stored
    encrypted (core/crypto.py) and never shown back."""

    cnpj = models.CharField("CNPJ", max_length=14)
    ie = models.CharField("inscrição estadual", max_length=14)
    razao_social = models.CharField("razão social", max_length=60)
    nome_fantasia = models.CharField("nome fantasia", max_length=60, blank=True)
    street = models.CharField("logradouro", max_length=60)
    number = models.CharField("número", max_length=60)
    complement = models.CharField("complemento", max_length=60, blank=True)
    district = models.CharField("bairro", max_length=60)
    city = models.CharField("município", max_length=60)
    ibge_code = models.CharField("código IBGE do município", max_length=7)
    uf = models.CharField("UF", max_length=2)
    zip_code = models.CharField("CEP", max_length=8)
    phone = models.CharField("telefone", max_length=12, blank=True)
    email = models.CharField("e-mail", max_length=60, blank=True)
    crt = models.PositiveSmallIntegerField("regime tributário (CRT)", choices=Crt.choices, default=Crt.NORMAL)
    environment = models.PositiveSmallIntegerField("ambiente", choices=Environment.choices,
                                                   default=Environment.HOMOLOGATION)
    serie = models.PositiveSmallIntegerField("série", default=1)
    sefaz_url = models.CharField("URL do web service (autorizador)", max_length=300, blank=True)
    certificate_enc = models.TextField(blank=True)  # Fernet token of {"pkcs12": b64, "password": ...}
    certificate_subject = models.CharField(max_length=300, blank=True)
    certificate_not_after = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "emitente"
        verbose_name_plural = "emitente"

    def __str__(self) -> str:
        return self.razao_social


class Series(models.Model):
    """The next number of one série in one environment: locked (FOR UPDATE) by the
    transaction that creates a document, so numbers are never duplicated nor skipped."""

    environment = models.PositiveSmallIntegerField(choices=Environment.choices)
    serie = models.PositiveSmallIntegerField()
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = "série"
        constraints = [models.UniqueConstraint(fields=["environment", "serie"], name="uniq_fiscal_series")]


class ServiceKind(models.TextChoices):
    SCM = "SCM", "SCM (telecomunicação, com ICMS)"
    SVA = "SVA", "SVA (valor adicionado, sem ICMS)"
    OTHER = "OUTRO", "Outro"


class IcmsCst(models.TextChoices):
    TAXED = "00", "00 — tributada integralmente"
    EXEMPT = "40", "40 — isenta"
    NOT_TAXED = "41", "41 — não tributada"
    OTHER = "90", "90 — outras"
    NONE = "SEM", "Item sem CST de ICMS (indSemCST)"


class ProductFiscal(models.Model):
    """What the NFCom needs of a Produto: its class, cClass, CFOP, ICMS situation and
    the IBS/CBS classification (CST + cClassTrib)."""

    product = models.OneToOneField("catalog.Product", on_delete=models.CASCADE, related_name="fiscal")
    kind = models.CharField("classificação", max_length=5, choices=ServiceKind.choices)
    cclass = models.CharField("cClass", max_length=7)
    cfop = models.CharField("CFOP", max_length=4, blank=True)
    icms_cst = models.CharField("situação do ICMS", max_length=3, choices=IcmsCst.choices)
    ibscbs_cst = models.CharField("CST do IBS/CBS", max_length=3, default="000")
    cclass_trib = models.CharField("cClassTrib", max_length=6, default="000001")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "dados fiscais do produto"


class TaxKind(models.TextChoices):
    ICMS = "ICMS", "ICMS"
    FCP = "FCP", "FCP (fundo de combate à pobreza)"
    PIS = "PIS", "PIS"
    COFINS = "COFINS", "Cofins"
    CBS = "CBS", "CBS"
    IBS_UF = "IBS_UF", "IBS estadual"
    IBS_MUN = "IBS_MUN", "IBS municipal"
    ISS = "ISS", "ISS"


class TaxRule(models.Model):
    """A rate in force from ``valid_from`` to ``valid_to`` (inclusive; open when null)
    for one tax, one service kind (blank: all) and one UF (blank: all)."""

    kind = models.CharField("tributo", max_length=8, choices=TaxKind.choices)
    service_kind = models.CharField("classe", max_length=5, choices=ServiceKind.choices, blank=True)
    uf = models.CharField("UF", max_length=2, blank=True)
    valid_from = models.DateField("vigente desde")
    valid_to = models.DateField("vigente até", null=True, blank=True)
    rate = models.DecimalField("alíquota (%)", max_digits=7, decimal_places=4)
    source = models.CharField("fonte", max_length=300)

    class Meta:
        ordering = ["kind", "uf", "service_kind", "valid_from"]
        verbose_name = "regra tributária"
        verbose_name_plural = "regras tributárias"
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lte=100), name="taxrule_rate_0_100"),
            models.UniqueConstraint(fields=["kind", "service_kind", "uf", "valid_from"], name="uniq_taxrule_start"),
        ]


class DocStatus(models.TextChoices):
    DRAFT = "draft", "Rascunho"
    SIGNED = "signed", "Assinada"
    SENDING = "sending", "Enviando"
    AUTHORISED = "authorised", "Autorizada"
    REJECTED = "rejected", "Rejeitada"
    UNKNOWN = "unknown", "Resultado incerto (consultar)"
    CANCELLED = "cancelled", "Cancelada"
    SUBSTITUTED = "substituted", "Substituída"


class Purpose(models.IntegerChoices):
    """finNFCom (MOC NFCom, Anexo I, campo #16). Agrega emits 0 and 3; 4 (ajuste) is
    not emitted (docs/fiscal.md)."""

    NORMAL = 0, "Normal"
    SUBSTITUTION = 3, "Substituição"


class SubstitutionReason(models.TextChoices):
    """motSub (MOC NFCom, Anexo I, campo #84; 06 added by the schema's TMotSub)."""

    PRICE = "01", "01 — Erro de preço"
    REGISTRATION = "02", "02 — Erro cadastral"
    COURT = "03", "03 — Decisão judicial"
    TAXATION = "04", "04 — Erro de tributação"
    DISCONTINUED = "05", "05 — Descontinuidade do serviço"
    SPECIAL_REGIME = "06", "06 — Regime especial"


class NFCom(models.Model):
    """One normal NFCom per título (unique for ``purpose`` 0): a rejected document is
    corrected and re-sent under the same number, so a título never has two authorised
    NFCom and a number is never left unused. After authorisation a correction is an NFCom
    de substituição (``purpose`` 3, ``substitutes`` the original, which becomes
    ``substituted`` once the new one is authorised): the título's current document is
    the last of that chain."""

    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="nfcoms")
    purpose = models.PositiveSmallIntegerField("finalidade (finNFCom)", choices=Purpose.choices,
                                               default=Purpose.NORMAL)
    substitutes = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="substituted_by", verbose_name="substitui")
    substitution_reason = models.CharField("motivo da substituição (motSub)", max_length=2, blank=True,
                                           choices=SubstitutionReason.choices)
    environment = models.PositiveSmallIntegerField(choices=Environment.choices)
    serie = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField()
    key = models.CharField("chave de acesso", max_length=44, unique=True)
    c_nf = models.CharField(max_length=7)
    issued_at = models.DateTimeField("emissão")
    status = models.CharField(max_length=11, choices=DocStatus.choices, default=DocStatus.DRAFT)
    xml = models.BinaryField(default=b"")  # the signed NFCom (or the draft before signing)
    proc_xml = models.BinaryField(default=b"")  # nfcomProc: the document with its protocol
    protocol = models.CharField("protocolo", max_length=20, blank=True)
    c_stat = models.CharField(max_length=4, blank=True)
    x_motivo = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    authorised_at = models.DateTimeField(null=True, blank=True)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    # revenue per class and taxes, from the document's own items (reports read these)
    scm_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    sva_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    other_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    icms_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    cancel_reason = models.CharField(max_length=255, blank=True)
    cancel_xml = models.BinaryField(default=b"")
    cancel_protocol = models.CharField(max_length=20, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    emailed_at = models.DateTimeField("enviada ao cliente em", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "NFCom"
        verbose_name_plural = "NFCom"
        constraints = [
            models.UniqueConstraint(fields=["environment", "serie", "number"], name="uniq_nfcom_number"),
            models.UniqueConstraint(fields=["invoice"], condition=Q(purpose=0), name="uniq_nfcom_invoice_normal"),
            models.CheckConstraint(condition=Q(purpose=0, substitutes__isnull=True)
                                   | Q(purpose=3, substitutes__isnull=False), name="nfcom_substitution_has_original"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"]), models.Index(fields=["issued_at"])]

    def __str__(self) -> str:
        return f"NFCom {self.serie}/{self.number}"
