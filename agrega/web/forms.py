"""The login form: says when a username is throttled, and for how long."""

import math

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from agrega.core.throttle import blocked_for, client_ip


class LoginForm(AuthenticationForm):
    def clean(self):
        wait = blocked_for(self.cleaned_data.get("username"), client_ip(self.request))
        if wait:
            minutes = max(1, math.ceil(wait / 60))
            raise forms.ValidationError(
                f"Muitas tentativas de entrada sem sucesso. Tente novamente em {minutes} minuto(s).",
                code="login_throttled",
            )
        return super().clean()
