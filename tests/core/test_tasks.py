"""The task framework's pieces of our own (agrega/core/tasks.py, decision 0008): the
scheduler enqueues each due periodic job once, the task records its outcome; the
reclaim requeues a dead worker's task, leaves a live one's alone, and gives up after
the maximum of claims."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from agrega.core.jobs import enqueue_due_jobs, enqueue_job, ensure_jobs
from agrega.core.models import ScheduledJob, TaskWorkerBeat
from agrega.core.tasks import WORKER_LOST, beat, reclaim_orphans, run_periodic_job, task_data
from tests.core.test_jobs import CALLS

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(settings):
    CALLS.clear()
    settings.PERIODIC_JOBS = {
        "test.count": {"call": "tests.core.test_jobs.counting_job", "every_seconds": 60},
        "test.fail": {"call": "tests.core.test_jobs.failing_job", "every_seconds": 60},
    }
    ensure_jobs()


def test_due_jobs_are_enqueued_once_and_run_by_the_task(jobs, run_tasks):
    assert sorted(enqueue_due_jobs(runner="a")) == ["test.count", "test.fail"]
    # a second scheduler (another machine) finds them claimed: nothing more is queued
    assert enqueue_due_jobs(runner="b") == []
    assert enqueue_job("test.count", runner="b", force=True) is None  # queued already
    assert DBTaskResult.objects.count() == 2 and not CALLS  # enqueued, not run
    held = ScheduledJob.objects.get(name="test.count")
    assert held.locked_by.startswith("task:") and held.next_run_at > timezone.now()

    assert run_tasks() == 2
    count, fail = ScheduledJob.objects.get(name="test.count"), ScheduledJob.objects.get(name="test.fail")
    assert CALLS == [1] and count.runs == 1 and count.last_ok and count.last_result == {"calls": 1}
    assert fail.runs == 1 and fail.last_ok is False and "plataforma fora do ar" in fail.last_error
    assert count.locked_by == "" and count.locked_until is None  # released by the task
    results = {r.args_kwargs["kwargs"]["name"]: r for r in DBTaskResult.objects.all()}
    assert results["test.count"].status == "SUCCESSFUL"
    assert results["test.count"].return_value == {"job": "test.count", "ok": True, "result": {"calls": 1},
                                                  "error": ""}
    # not due again until its interval passes; forced, it is queued at once
    assert enqueue_due_jobs(runner="a") == []
    assert enqueue_job("test.count", runner="a", force=True) is not None


def running_task(worker_ids: list[str], started_ago: float):
    result = run_periodic_job.enqueue(name="x")
    DBTaskResult.objects.filter(pk=result.id).update(
        status="RUNNING", worker_ids=worker_ids, started_at=timezone.now() - timedelta(seconds=started_ago))
    return result.id


def test_reclaim_requeues_a_dead_workers_task_and_leaves_a_live_ones(settings):
    settings.TASK_LEASE_SECONDS = 30
    beat("alive")
    TaskWorkerBeat.objects.create(worker_id="dead", beat_at=timezone.now() - timedelta(seconds=31))
    dead = running_task(["dead"], started_ago=60)
    alive = running_task(["alive"], started_ago=600)
    fresh = running_task(["unknown"], started_ago=1)  # just claimed: its worker's beat may not be in yet

    assert reclaim_orphans() == {"requeued": [str(dead)], "failed": []}
    row = DBTaskResult.objects.get(pk=dead)
    assert row.status == "READY" and row.started_at is None and row.worker_ids == ["dead"]
    assert DBTaskResult.objects.get(pk=alive).status == "RUNNING"
    assert DBTaskResult.objects.get(pk=fresh).status == "RUNNING"
    assert reclaim_orphans() == {"requeued": [], "failed": []}  # once


def test_reclaim_gives_up_after_the_maximum_of_claims(settings):
    settings.TASK_LEASE_SECONDS, settings.TASK_MAX_ATTEMPTS = 30, 3
    doomed = running_task(["w1", "w2", "w3"], started_ago=120)
    assert reclaim_orphans() == {"requeued": [], "failed": [str(doomed)]}
    row = DBTaskResult.objects.get(pk=doomed)
    assert row.status == "FAILED" and row.exception_class_path == WORKER_LOST
    data = task_data(row)
    assert data["attempts"] == 3 and data["status_label"] == "falhou" and "3 vez(es)" in data["error"]
