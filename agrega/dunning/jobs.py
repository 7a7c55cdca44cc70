"""Periodic dunning jobs (settings.PERIODIC_JOBS): the daily sweep and the frequent
expiry of trust releases (so a release ends within minutes of its time, not a day)."""

from . import services


def daily_sweep() -> dict:
    return services.dunning_sweep().as_dict()


def expire_trust_releases() -> dict:
    return {"blocked_again": services.expire_trust_releases()}
