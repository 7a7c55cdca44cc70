"""Writes for API tokens (issue one, its raw value returned once; revoke it) and for user
administration (create, role, deactivate/reactivate, password reset, revoke their tokens)."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from agrega.core.errors import Conflict, FieldErrors, NotFound

from .models import ApiToken
from .br import InvalidValue
from .text import clean_text, clean_text_into


@transaction.atomic
def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it with the raw value (shown only this once)."""
    errors = FieldErrors()
    name = clean_text_into(errors, "name", ApiToken, "name", name, label="Nome do token")
    if name == "":
        errors.add("name", "name_required", "Informe um nome para o token (ex.: erp, cli).")
    errors.raise_if_any()
    return ApiToken.issue(user=user, name=name)


@transaction.atomic
def api_token_revoke(*, user, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s tokens; from then on it authenticates nothing."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
    if token is None or token.revoked_at is not None:
        raise NotFound("Token de API", "token_not_found")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return token


# ------------------------------------------------------------------ user administration
# Administrators manage the people who use Agrega (page Configurações > Usuários,
# /api/users, ``agrega user``). Every change goes to the audit log (ChangeRecord, object
# "auth.user"), never a password. No change may leave Agrega without an active
# administrator: that is refused with 409 ``last_admin``.

USERNAME_MAX = 150
PASSWORD_MAX = 256
NAME_MAX = 150
PASSWORD_MAX = 256


def _users():
    from django.contrib.auth import get_user_model

    return get_user_model().objects


def user_name(user) -> str:
    return user.get_full_name().strip()


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last.strip()


def _user_facts(user) -> dict:
    """What the audit log keeps of a user (no password)."""
    from .selectors import user_role_of

    role = user_role_of(user)
    return {"username": user.get_username(), "name": user_name(user), "email": user.email,
            "role": role.value if role else None, "is_active": user.is_active}


def _get_user_for_update(user_id):
    user = _users().select_for_update().filter(pk=user_id).first() if isinstance(user_id, int) else None
    if user is None:
        raise NotFound("Usuário", "user_not_found")
    return user


def _lock_active_admins() -> list[int]:
    """The ids of the active administrators, read after locking their rows (in id order).

    Called before the user's own row is locked, so two administrators demoting each
    other wait for one another instead of deadlocking. The ids are read again after the
    lock: a transaction that waited for it still holds the snapshot taken before the
    other committed (READ COMMITTED), and a demotion changes the groups, not the rows
    locked, so only a fresh read sees it."""
    from django.db.models import Q

    from .roles import Role

    groups = _users().model.groups.through.objects.filter(group__name=Role.ADMIN.value).values("user_id")

    def admins():
        return _users().filter(Q(is_superuser=True) | Q(pk__in=groups), is_active=True).order_by("pk")

    list(admins().select_for_update().values_list("pk", flat=True))
    return list(admins().values_list("pk", flat=True))


def _keep_an_admin(user, admins: list[int], *, actor, what: str) -> None:
    """Refuse a change that leaves no active administrator (``what``: the change, for the message)."""
    if user.pk in admins and len(admins) == 1:
        whom = "você é" if actor is not None and actor.pk == user.pk else f"'{user.get_username()}' é"
        raise Conflict("last_admin",
                       f"Não é possível {what}: {whom} o único administrador ativo. "
                       "Dê o papel de administrador a outro usuário antes.")


def _check_role(role, errors: FieldErrors) -> None:
    from .roles import Role

    if role not in Role.values:
        errors.add("role", "role_invalid", "Papel inválido: use " + ", ".join(Role.values) + ".")


def _check_password(password, user, errors: FieldErrors) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError as DjangoValidationError

    if not password:
        errors.add("password", "password_required", "Informe a senha.")
        return
    if len(password) > PASSWORD_MAX:
        errors.add("password", "password_too_long", f"Senha: no máximo {PASSWORD_MAX} caracteres.")
        return
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        for error in exc.error_list:
            errors.add("password", error.code or "password_invalid", " ".join(error.messages))


def generate_password() -> str:
    """A random password that every configured validator accepts (shown once)."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


@transaction.atomic
def user_create(*, actor, username: str, name: str, email: str, role: str, password: str):
    """A new active user with one role. The password goes through Django's validators."""
    from django.contrib.auth.validators import UnicodeUsernameValidator
    from django.core.exceptions import ValidationError as DjangoValidationError
    from django.core.validators import validate_email

    from .audit import record_change
    from .roles import assign_role

    errors = FieldErrors()
    username = (username or "").strip()
    name = " ".join((name or "").split())
    email = (email or "").strip()
    if not username:
        errors.add("username", "username_required", "Informe o nome de usuário (login).")
    elif len(username) > USERNAME_MAX:
        errors.add("username", "username_too_long", f"Nome de usuário: no máximo {USERNAME_MAX} caracteres.")
    else:
        try:
            UnicodeUsernameValidator()(username)
        except DjangoValidationError:
            errors.add("username", "username_invalid",
                       "Nome de usuário: só letras, números e os caracteres @ . + - _ (sem espaços).")
        else:
            if _users().filter(username__iexact=username).exists():
                errors.add("username", "username_taken", f"Já existe um usuário '{username}'.")
    try:
        name = clean_text(name, max_length=NAME_MAX, field="Nome")
    except InvalidValue as exc:
        errors.add("name", exc.code, exc.message)
        name = "-"  # reported; keep the checks below from adding a second error
    if not name:
        errors.add("name", "name_required", "Informe o nome da pessoa.")
    elif len(name) > NAME_MAX:
        errors.add("name", "name_too_long", f"Nome: no máximo {NAME_MAX} caracteres.")
    if not email:
        errors.add("email", "email_required", "Informe o e-mail.")
    else:
        try:
            validate_email(email)
        except DjangoValidationError:
            errors.add("email", "email_invalid", "E-mail inválido.")
        if len(email) > 254:
            errors.add("email", "email_too_long", "E-mail: no máximo 254 caracteres.")
    _check_role(role, errors)
    first, last = _split_name(name)
    candidate = _users().model(username=username, first_name=first, last_name=last, email=email)
    _check_password(password, candidate, errors)
    errors.raise_if_any()
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save(force_insert=True)
    except IntegrityError:  # created by someone else just now
        failed = FieldErrors()
        failed.add("username", "username_taken", f"Já existe um usuário '{username}'.")
        failed.raise_if_any()
    assign_role(candidate, role)
    record_change(instance=candidate, action="create", actor=actor, changes={
        k: [None, v] for k, v in _user_facts(candidate).items()})
    return candidate


@transaction.atomic
def user_set_role(*, actor, user_id: int, role: str):
    """Make ``role`` the user's only role. Demoting the last active administrator is refused."""
    from .audit import record_change
    from .roles import Role, assign_role

    errors = FieldErrors()
    _check_role(role, errors)
    errors.raise_if_any()
    admins = _lock_active_admins()
    user = _get_user_for_update(user_id)
    before = _user_facts(user)
    if before["role"] == role and not (user.is_superuser and role != Role.ADMIN):
        return user
    if role != Role.ADMIN:
        _keep_an_admin(user, admins, actor=actor, what="tirar o papel de administrador")
        if user.is_superuser or user.is_staff:
            # a superuser is an administrator whatever their groups say
            user.is_superuser = user.is_staff = False
            user.save(update_fields=["is_superuser", "is_staff"])
    assign_role(user, role)
    record_change(instance=user, action="role", actor=actor, changes={"role": [before["role"], role]})
    return user


def _end_sessions(user) -> int:
    """Delete the user's login sessions (database sessions), so they leave at once."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def user_deactivate(*, actor, user_id: int):
    """The user can no longer log in; their tokens are revoked and their sessions end at once."""
    from .audit import record_change

    admins = _lock_active_admins()
    user = _get_user_for_update(user_id)
    if not user.is_active:
        return user
    _keep_an_admin(user, admins, actor=actor, what="desativar este usuário")
    user.is_active = False
    user.save(update_fields=["is_active"])
    revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    sessions = _end_sessions(user)
    record_change(instance=user, action="deactivate", actor=actor,
                  changes={"is_active": [True, False], "tokens_revoked": [None, revoked],
                           "sessions_ended": [None, sessions]})
    return user


@transaction.atomic
def user_reactivate(*, actor, user_id: int):
    """The user logs in again with their password; revoked tokens stay revoked."""
    from .audit import record_change

    user = _get_user_for_update(user_id)
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active"])
    record_change(instance=user, action="reactivate", actor=actor, changes={"is_active": [False, True]})
    return user


@transaction.atomic
def user_reset_password(*, actor, user_id: int, password: str | None = None):
    """Set a new password (checked by the validators) or, without one, a random one.
    Returns ``(user, generated)``: ``generated`` is the random password (to show once) or
    None. The user's sessions end: Django ties each session to the password's hash."""
    from .audit import record_change

    user = _get_user_for_update(user_id)
    generated = None
    if password is None:
        generated = password = generate_password()
    errors = FieldErrors()
    _check_password(password, user, errors)
    errors.raise_if_any()
    user.set_password(password)
    user.save(update_fields=["password"])
    record_change(instance=user, action="password_reset", actor=actor,
                  changes={"password": ["(oculta)", "gerada" if generated else "definida pelo administrador"]})
    return user, generated


@transaction.atomic
def user_token_revoke(*, actor, user_id: int, token_id: int) -> ApiToken:
    """An administrator revokes one of a user's tokens."""
    from .audit import record_change

    user = _get_user_for_update(user_id)
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
    if token is None or token.revoked_at is not None:
        raise NotFound("Token de API", "token_not_found")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record_change(instance=user, action="token_revoke", actor=actor,
                  changes={"token": [f"{token.name} ({token.key_prefix}…)", "revogado"]})
    return token
