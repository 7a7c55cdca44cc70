"""Pages of Configurações > Usuários: administrators list, create and manage users (role,
deactivate/reactivate, password, API tokens). Administrators only, even to look
(CONFIGURE): the page says who has access. Each action calls one core.services write; a
generated password is shown in the answer to its POST only (never kept in a message,
which would go to the session)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import TemplateView

from agrega.core import selectors, services
from agrega.core.errors import ApplicationError
from agrega.core.roles import Capability, Role
from agrega.core.users_filtersets import UserFilterSet
from agrega.core.permissions import CapabilityRequiredMixin
from agrega.core.web import apply_service_error, keyset_context

from .forms import PasswordForm, RoleForm, UserCreateForm, UserFilterForm


class _Admin(CapabilityRequiredMixin):
    capability = Capability.CONFIGURE


def _get_user(pk: int):
    user = selectors.user_list().filter(pk=pk).first()
    if user is None:
        raise Http404("Usuário não encontrado.")
    user.role = selectors.user_role_of(user)
    return user


class UserListView(_Admin, TemplateView):
    template_name = "web/users/list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # the filter bar is UserFilterSet's, as the API's parameters and the CLI's options;
        # a refused value (an unknown role) is said next to its field
        form = UserFilterForm(self.request.GET or None)
        filters = form.filter_values if form.is_valid() else {}
        context.update(keyset_context(self.request, UserFilterSet(filters).queryset()))
        for row in context["rows"]:
            row.role = selectors.user_role_of(row)
        context.update(form=form, filtered=bool(filters))
        return context


def render_detail(request, user, *, role_form=None, password_form=None, generated=None, error=None, status=200):
    tokens = list(selectors.user_tokens(user_id=user.pk))
    return render(request, "web/users/detail.html", {
        "subject": user, "tokens": tokens,
        "role_form": role_form or RoleForm(initial={"role": user.role.value if user.role else Role.OPERATOR}),
        "password_form": password_form or PasswordForm(), "generated": generated, "error": error,
        "is_self": user.pk == request.user.pk,
    }, status=status)


class UserCreateView(_Admin, View):
    template_name = "web/users/form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": UserCreateForm()})

    def post(self, request):
        form = UserCreateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            generated = services.generate_password() if data["generate"] else None
            try:
                user = services.user_create(actor=request.user, username=data["username"], name=data["name"],
                                            email=data["email"], role=data["role"],
                                            password=generated or data["password"])
            except ApplicationError as exc:
                apply_service_error(form, exc)
            else:
                if generated is None:
                    messages.success(request, f"Usuário “{user.username}” criado.")
                    return redirect("users:detail", user.pk)
                return render_detail(request, _get_user(user.pk), generated=generated)
        return render(request, self.template_name, {"form": form}, status=422)


class UserDetailView(_Admin, View):
    def get(self, request, pk: int):
        return render_detail(request, _get_user(pk))


class _UserAction(_Admin, View):
    """A POST that calls one service and comes back to the user's page."""

    http_method_names = ["post"]
    done = ""

    def act(self, request, user) -> None:
        raise NotImplementedError

    def post(self, request, pk: int):
        user = _get_user(pk)
        try:
            self.act(request, user)
        except ApplicationError as exc:
            return render_detail(request, user, error=exc.message, status=409 if exc.status_code == 409 else 422)
        messages.success(request, self.done)
        if user.pk == request.user.pk and not request.user.is_active:
            return redirect("web:login")
        return redirect("users:detail", user.pk)


class UserRoleView(_UserAction):
    done = "Papel alterado."

    def post(self, request, pk: int):
        form = RoleForm(request.POST)
        if not form.is_valid():
            return render_detail(request, _get_user(pk), role_form=form, status=422)
        self.role = form.cleaned_data["role"]
        return super().post(request, pk)

    def act(self, request, user):
        services.user_set_role(actor=request.user, user_id=user.pk, role=self.role)


class UserDeactivateView(_UserAction):
    done = "Usuário desativado: os tokens foram revogados e as sessões encerradas."

    def act(self, request, user):
        services.user_deactivate(actor=request.user, user_id=user.pk)
        if user.pk == request.user.pk:
            request.user.is_active = False


class UserReactivateView(_UserAction):
    done = "Usuário reativado."

    def act(self, request, user):
        services.user_reactivate(actor=request.user, user_id=user.pk)


class UserPasswordView(_Admin, View):
    http_method_names = ["post"]

    def post(self, request, pk: int):
        user = _get_user(pk)
        form = PasswordForm(request.POST)
        if not form.is_valid():
            return render_detail(request, user, password_form=form, status=422)
        generate = form.cleaned_data["generate"]
        try:
            changed, generated = services.user_reset_password(
                actor=request.user, user_id=user.pk, password=None if generate else form.cleaned_data["password"])
        except ApplicationError as exc:
            apply_service_error(form, exc)
            return render_detail(request, user, password_form=form, status=422)
        if changed.pk == request.user.pk:
            update_session_auth_hash(request, changed)  # an administrator's own reset keeps them logged in
        if generated:
            return render_detail(request, _get_user(pk), generated=generated)
        messages.success(request, "Senha redefinida; as sessões do usuário foram encerradas.")
        return redirect("users:detail", user.pk)


class UserTokenRevokeView(_Admin, View):
    http_method_names = ["post"]

    def post(self, request, pk: int, token_pk: int):
        user = _get_user(pk)
        try:
            token = services.user_token_revoke(actor=request.user, user_id=user.pk, token_id=token_pk)
        except ApplicationError as exc:
            if request.htmx:
                return render(request, "web/users/_token_row.html", {"error": exc.message, "subject": user,
                                                                     "token": None})
            return render_detail(request, user, error=exc.message, status=404)
        if request.htmx:
            return render(request, "web/users/_token_row.html", {"token": token, "subject": user})
        messages.success(request, f"Token “{token.name}” revogado.")
        return redirect("users:detail", user.pk)
