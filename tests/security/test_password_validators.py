"""Passwords a person chooses are checked against the common-password list and against
the user's own name and e-mail, not only for length."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("password", ["password123", "12345678", "qwertyuiop", "iloveyou1"])
def test_common_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_password_like_the_users_own_name_or_email_is_refused():
    user = get_user_model()(username="mariasouza", email="maria.souza@example.com.br", first_name="Maria")
    for password in ("mariasouza1", "maria.souza"):
        with pytest.raises(ValidationError):
            validate_password(password, user)
    validate_password("cavalo-grampo-bateria", user)


def test_the_demo_password_passes_the_validators_for_every_demo_login():
    """`agrega-demo` is documented; the seed sets it directly, but it would pass anyway."""
    for username in ("admin", "operador", "leitura"):
        validate_password("agrega-demo", get_user_model()(username=username, email=f"{username}@example.com.br"))
