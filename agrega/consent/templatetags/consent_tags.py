"""``{% contract_consents %}``: the Consentimentos section of the contract's SVA tab (the
contract page's view knows nothing of consent; the tag reads it through the selectors)."""

from django import template

from agrega.consent import selectors

register = template.Library()


@register.inclusion_tag("consent/_contract_section.html", takes_context=True)
def contract_consents(context):
    contract = context["contract"]
    return {
        "contract": contract,
        "can_operate": context.get("can_operate", False),
        "consent_rows": selectors.contract_consent_rows(contract),
        "consent_records": list(selectors.consent_list(contract_id=contract.pk).order_by("-id")[:100]),
    }
