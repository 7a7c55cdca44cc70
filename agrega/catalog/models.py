"""Produto: what the ISP sells; its SVA tab ties it to one platform package."""

from decimal import Decimal

from django.db import models
from django.db.models import Q


class Product(models.Model):
    """A product. When ``sva_integration`` is set, ``sva_package_code`` is the platform's
    package this product gives, and a package belongs to one product per integration
    (the seed's "Cuidado": enforced by a unique constraint)."""

    class FiscalClass(models.TextChoices):
        SCM = "SCM", "SCM (telecomunicações)"
        SVA = "SVA", "SVA (serviço de valor adicionado)"
        OTHER = "OUTRO", "Outro"

    name = models.CharField("descrição", max_length=200)
    price = models.DecimalField("valor", max_digits=12, decimal_places=2, default=Decimal("0"))
    fiscal_class = models.CharField(
        "classe fiscal", max_length=5, choices=FiscalClass.choices, default=FiscalClass.OTHER
    )
    active = models.BooleanField("ativo", default=True)
    sva_integration = models.ForeignKey(
        "integrations.SvaIntegration",
        verbose_name="ID integração SVA",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
    )
    sva_package_code = models.CharField("pacote SVA principal", max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "produto"
        verbose_name_plural = "produtos"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sva_integration", "sva_package_code"],
                condition=Q(sva_integration__isnull=False),
                name="uniq_sva_package_per_integration",
                violation_error_message="Este pacote SVA já está vinculado a outro produto.",
            ),
            models.CheckConstraint(
                condition=Q(sva_integration__isnull=True, sva_package_code="")
                | (Q(sva_integration__isnull=False) & ~Q(sva_package_code="")),
                name="sva_integration_and_package_together",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_sva(self) -> bool:
        return self.sva_integration_id is not None
