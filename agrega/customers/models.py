"""Cliente: the ISP's subscriber, a person (CPF) or a company (CNPJ)."""

from django.db import models


class Customer(models.Model):
    """Registration data the SVA platforms need: document, e-mail and mobile phone.

    ``document``, ``email`` and ``mobile_phone`` are stored normalised (the CPF/CNPJ compact
    and upper case, 14 characters at most for the alphanumeric CNPJ too; E.164) by
    the services; they may be blank, because an ISP's existing customers often lack
    them, and the SVA registration check then names what is missing.
    """

    class PersonType(models.TextChoices):
        INDIVIDUAL = "F", "Pessoa física"
        COMPANY = "J", "Pessoa jurídica"

    name = models.CharField("nome / razão social", max_length=200)
    person_type = models.CharField("tipo de pessoa", max_length=1, choices=PersonType.choices)
    document = models.CharField("CPF/CNPJ", max_length=14, unique=True)
    email = models.CharField("e-mail principal", max_length=254, blank=True)
    mobile_phone = models.CharField("telefone celular", max_length=20, blank=True)
    street = models.CharField("endereço", max_length=200, blank=True)
    number = models.CharField("número", max_length=20, blank=True)
    district = models.CharField("bairro", max_length=100, blank=True)
    city = models.CharField("cidade", max_length=100, blank=True)
    state = models.CharField("UF", max_length=2, blank=True)
    zip_code = models.CharField("CEP", max_length=8, blank=True)
    # What the NFCom needs of the destinatário (agrega/fiscal): the municipality's IBGE
    # code and the IE indicator (1 contribuinte, 2 isento, 9 não contribuinte) with the IE.
    ibge_code = models.CharField("código IBGE do município", max_length=7, blank=True)
    ind_ie_dest = models.CharField("indicador de IE", max_length=1, blank=True)
    ie = models.CharField("inscrição estadual", max_length=14, blank=True)
    # LGPD: when set, the personal data above were erased on the holder's request;
    # the row stays so contracts and títulos keep their customer (agrega/customers/privacy.py).
    anonymized_at = models.DateTimeField("anonimizado em", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "cliente"
        verbose_name_plural = "clientes"
        ordering = ["id"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["email"])]

    def __str__(self) -> str:
        return self.name
