"""Form of Sistema > Cadastros > Planos de Venda: the plan's fields and its item rows
(produto + valor). Light parsing only ("99,90" → "99.90"); ``plans.services`` checks the
products and prices and names the row at fault."""

from __future__ import annotations

from django import forms

from agrega.core.web import BootstrapFormMixin

from .filtersets import PlanFilterSet


class PlanFilterForm(BootstrapFormMixin, PlanFilterSet.form_class(labels={"q": "Buscar planos de venda"})):
    """The Planos de venda filter bar: the fields of ``PlanFilterSet`` (one declaration for
    the page, the API and the CLI)."""


class PlanForm(BootstrapFormMixin, forms.Form):
    service_required = ("name",)
    name = forms.CharField(label="Nome", max_length=120, required=False)
    description = forms.CharField(label="Descrição", max_length=250, required=False)
    active = forms.BooleanField(label="Ativo (oferecido em novos contratos)", required=False, initial=True)


class ItemRows:
    """The item rows posted by the plan form (``item_product`` / ``item_price`` lists).

    Rows without a product are ignored; ``items`` is what the service takes and
    ``row_of`` maps the service's item index back to the row on the page."""

    def __init__(self, data=None, plan=None):
        self.errors: dict[int, list[str]] = {}
        if data is not None:
            products, prices = data.getlist("item_product"), data.getlist("item_price")
            prices += [""] * (len(products) - len(prices))
            self.rows = [{"product": p.strip(), "price": v.strip()} for p, v in zip(products, prices)]
        elif plan is not None:
            self.rows = [
                {"product": str(i.product_id),
                 "price": "" if i.price is None else f"{i.price:.2f}".replace(".", ",")}
                for i in plan.items.all()
            ]
        else:
            self.rows = []
        self.items, self.row_of = [], {}
        for index, row in enumerate(self.rows):
            if not row["product"]:
                continue
            self.row_of[len(self.items)] = index
            self.items.append({"product_id": row["product"], "price": (row["price"] or "").strip() or None})

    def apply_error(self, exc) -> bool:
        """Put the service's ``items.N.*`` field errors on their rows; True if any."""
        found = False
        for name, errors in exc.fields.items():
            parts = name.split(".")
            if parts[0] != "items" or len(parts) < 2 or not parts[1].isdigit():
                continue
            row = self.row_of.get(int(parts[1]))
            if row is None:
                continue
            self.errors.setdefault(row, []).extend(e.message for e in errors)
            found = True
        return found

    def for_template(self) -> list[dict]:
        rows = [{**row, "errors": self.errors.get(i, [])} for i, row in enumerate(self.rows)]
        return rows or [{"product": "", "price": "", "errors": []}]
