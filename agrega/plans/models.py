"""Planos de Venda: a bundle of products (internet + SVA packages) with their prices,
used to fill a new contract."""

from django.db import models
from django.db.models import Q


class SalesPlan(models.Model):
    name = models.CharField("nome", max_length=120, unique=True)
    description = models.CharField("descrição", max_length=250, blank=True)
    active = models.BooleanField("ativo", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "plano de venda"
        verbose_name_plural = "planos de venda"

    def __str__(self) -> str:
        return self.name


class SalesPlanItem(models.Model):
    """A product of the plan; ``price`` empty means the product's own price."""

    plan = models.ForeignKey(SalesPlan, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    price = models.DecimalField("valor", max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "produto do plano"
        verbose_name_plural = "produtos do plano"
        constraints = [
            models.UniqueConstraint(fields=["plan", "product"], name="uniq_plan_product"),
            models.CheckConstraint(condition=Q(price__isnull=True) | Q(price__gte=0), name="plan_price_not_negative"),
        ]
