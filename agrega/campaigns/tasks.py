"""The campaigns' background task (django-tasks; agrega/core/tasks.py): process a running
campaign at its rate. The pages and the API enqueue it when a campaign starts or
resumes; the periodic job ``campaigns.run`` (a task too) takes over a campaign whose
runner died.

It resumes: each contract of the campaign is an item settled once (its status is kept),
and the campaign has its own runner lease; a task run again after its worker died
continues with the pending items, or waits for that lease if it has not expired yet."""

from __future__ import annotations

from django.urls import reverse
from django_tasks import task

from agrega.core.errors import ApplicationError
from agrega.core.tasks import actor_of, again_later, links_to

from . import services


@task()
def run_campaign(campaign_id: int, actor_id: int | None = None) -> dict:
    """Process the campaign's pending contracts until done, paused or cancelled."""
    try:
        campaign = services.campaign_run(campaign_id=campaign_id, actor=actor_of(actor_id))
    except ApplicationError as exc:
        if exc.code == "campaign_running_elsewhere":
            again_later(run_campaign, seconds=services.LEASE_SECONDS, campaign_id=campaign_id, actor_id=actor_id)
            return {"campaign": campaign_id, "deferred": exc.code}
        return {"campaign": campaign_id, "refused": exc.code, "message": exc.message}
    return {"campaign": campaign.pk, "status": campaign.status}


links_to(run_campaign, lambda kwargs, result: (f"Campanha {kwargs['campaign_id']}",
                                       reverse("campaigns:detail", args=[kwargs["campaign_id"]])))
