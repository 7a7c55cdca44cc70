"""Forms of Configurações > Usuários. They only carry the input: the rules (username,
e-mail, role, Django's password validators, the last administrator) are core.services'."""

from django import forms

from agrega.core.roles import Role
from agrega.core.users_filtersets import UserFilterSet
from agrega.core.web import BootstrapFormMixin


class UserFilterForm(BootstrapFormMixin, UserFilterSet.form_class(labels={"q": "Buscar usuários"})):
    """The Usuários filter bar: the fields of ``UserFilterSet`` (one declaration for the
    page, the API and the CLI)."""


class UserCreateForm(BootstrapFormMixin, forms.Form):
    username = forms.CharField(label="Usuário (login)", max_length=200,
                               help_text="Letras, números e @ . + - _ (sem espaços).")
    name = forms.CharField(label="Nome", max_length=200)
    email = forms.CharField(label="E-mail", max_length=300)
    role = forms.ChoiceField(label="Papel", choices=Role.choices, initial=Role.OPERATOR)
    password = forms.CharField(label="Senha inicial", required=False, strip=False, max_length=300,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                               help_text="Deixe em branco e marque “Gerar senha aleatória” para o Agrega criar uma.")
    generate = forms.BooleanField(label="Gerar senha aleatória (mostrada uma única vez)", required=False)


class RoleForm(BootstrapFormMixin, forms.Form):
    role = forms.ChoiceField(label="Papel", choices=Role.choices)


class PasswordForm(BootstrapFormMixin, forms.Form):
    password = forms.CharField(label="Nova senha", required=False, strip=False, max_length=300,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
    generate = forms.BooleanField(label="Gerar senha aleatória (mostrada uma única vez)", required=False)
