"""Periodic jobs: one run per due time across runners, failures kept, schedule kept."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from agrega.core.jobs import JobSpec, claim, ensure_jobs, run_due_jobs, run_job
from agrega.core.models import ScheduledJob

SP = ZoneInfo("America/Sao_Paulo")
CALLS = []


def counting_job():
    CALLS.append(1)
    return {"calls": len(CALLS)}


def failing_job():
    raise RuntimeError("plataforma fora do ar")


@pytest.fixture
def jobs(settings, db):
    CALLS.clear()
    settings.PERIODIC_JOBS = {
        "test.count": {"call": "tests.core.test_jobs.counting_job", "every_seconds": 60},
        "test.fail": {"call": "tests.core.test_jobs.failing_job", "every_seconds": 60},
        "test.daily": {"call": "tests.core.test_jobs.counting_job", "daily_at": "06:00"},
    }
    ensure_jobs()
    return settings.PERIODIC_JOBS


def test_daily_job_runs_at_its_local_hour():
    spec = JobSpec("x", "x", daily_at="06:00")
    before = datetime(2026, 11, 28, 5, 59, tzinfo=SP)
    assert spec.next_after(before) == datetime(2026, 11, 28, 6, 0, tzinfo=SP)
    assert spec.next_after(datetime(2026, 11, 28, 6, 0, tzinfo=SP)) == datetime(2026, 11, 29, 6, 0, tzinfo=SP)


def test_interval_jobs_are_due_at_once_daily_jobs_at_their_next_hour(jobs):
    assert ScheduledJob.objects.get(name="test.count").next_run_at <= timezone.now()
    assert ScheduledJob.objects.get(name="test.daily").next_run_at > timezone.now()


def test_a_due_job_runs_once_and_is_rescheduled(jobs):
    ran = run_due_jobs(runner="a")
    assert set(ran) == {"test.count", "test.fail"} and CALLS == [1]
    assert run_due_jobs(runner="b") == []  # nothing due any more
    job = ScheduledJob.objects.get(name="test.count")
    assert job.runs == 1 and job.last_ok and job.last_result == {"calls": 1}
    assert job.next_run_at > timezone.now() + timedelta(seconds=50)


def test_a_held_job_is_not_claimed_by_another_runner_until_its_lease_ends(jobs):
    assert claim("test.count", runner="a")
    assert not claim("test.count", runner="b")
    assert run_job("test.count", runner="b") is None and CALLS == []
    ScheduledJob.objects.filter(name="test.count").update(locked_until=timezone.now() - timedelta(seconds=1))
    assert run_job("test.count", runner="b") is not None and CALLS == [1]


def test_a_failing_job_records_its_error_and_runs_again_later(jobs):
    job = run_job("test.fail", runner="a")
    assert job.last_ok is False and "plataforma fora do ar" in job.last_error and job.failures == 1
    assert job.locked_until is None and job.next_run_at > timezone.now()


def test_forced_run_ignores_the_schedule(jobs):
    assert run_job("test.daily", runner="a", force=True).runs == 1 and CALLS == [1]
