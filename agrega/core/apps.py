from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "agrega.core"
    label = "core"
    verbose_name = "Núcleo"

    def ready(self):
        from django.core import checks

        from . import connections, search
        from .keys import check_production_keys

        search.install()  # agrega_fold() on SQLite connections (core.search)
        connections.install()  # a kept database connection checked after an idle spell

        checks.register(check_production_keys, "security")
        self._forget_tokens_on_access_changes()

    @staticmethod
    def _forget_tokens_on_access_changes() -> None:
        """The API's token cache (core/api.py) forgets at once, in this process, when a
        token, a user or a user's groups change: a revocation is never served from it."""
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from .api import forget_cached_tokens
        from .models import ApiToken

        user_model = get_user_model()
        for model in (ApiToken, user_model):
            post_save.connect(forget_cached_tokens, sender=model, dispatch_uid=f"forget_tokens_save_{model.__name__}")
            post_delete.connect(forget_cached_tokens, sender=model,
                                dispatch_uid=f"forget_tokens_delete_{model.__name__}")
        m2m_changed.connect(forget_cached_tokens, sender=user_model.groups.through, dispatch_uid="forget_tokens_groups")
