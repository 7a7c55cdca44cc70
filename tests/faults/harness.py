"""The fault-injection harness: real `agrega worker` processes, a population of contracts
with SVA users, a program of contract changes made while the faults are on, and the
invariants checked once they clear (docs/faults.md).

Nothing here stands in for Agrega: changes go through the contract and customer
services, the workers are the `agrega worker` command, the platform is a connector's sandbox (each that ships one)
over HTTP. The harness only watches: it records what Agrega was asked to do (the desired
state after every change) and compares it with the database, the timelines and the
sandbox's own listing.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from agrega.contracts.services import (
    contract_add_product,
    contract_create,
    contract_remove_product,
    contract_transition,
)
from agrega.core.br import make_cpf
from agrega.customers.services import customer_create, customer_update
from agrega.integrations.models import SvaIntegration
from agrega.sva.models import SvaCall, SvaPendingWork, SvaUser
from agrega.sva.selectors import desired_for, retries_stopped, sva_user_queryset, sync_status

# Short timings so that a scenario converges in seconds (production defaults: README).
WORKER_ENV = {
    "AGREGA_SVA_IDLE_POLL": "0.1",
    "AGREGA_SVA_BACKOFF_BASE": "0.2",
    "AGREGA_SVA_BACKOFF_MAX": "2",
    "AGREGA_SVA_CIRCUIT_THRESHOLD": "5",
    "AGREGA_SVA_CIRCUIT_OPEN": "1",
    "AGREGA_SVA_LEASE_SECONDS": "30",
    # A small queue per worker, so that several workers share a few hundred users.
    "AGREGA_SVA_QUEUE_FACTOR": "2",
    "AGREGA_SVA_BATCH": "8",
    "AGREGA_LOG_LEVEL": "INFO",
}

# Error codes that do not make an attempt a failure: "the user is not there" is a normal
# answer to a lookup or to a repeated delete.
NORMAL_ERRORS = {"", "user_not_found"}
MUTATING = {"create_user", "update_user", "block_user", "unblock_user", "delete_user"}


def database_url() -> str:
    """The test database, as a URL for the worker processes."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return (f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:"
            f"{s['PORT'] or 5432}/{s['NAME']}")


# -- worker processes -----------------------------------------------------------------

class WorkerProcess:
    """One `agrega worker --no-jobs` process; its output goes to a file (never a pipe
    that nobody reads)."""

    def __init__(self, name: str, *, concurrency: int, env: dict[str, str], log_dir: str):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self._log = open(self.log_path, "wb")
        agrega = os.path.join(os.path.dirname(sys.executable), "agrega")
        self.proc = subprocess.Popen(
            [agrega, "worker", "--no-jobs", "--concurrency", str(concurrency)],
            env={**os.environ, "DATABASE_URL": database_url(), **WORKER_ENV, **env},
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.worker_id = ""
        self.killed = False

    def output(self) -> str:
        with open(self.log_path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")

    def wait_started(self, seconds: float = 90.0) -> str:
        """Wait for the "started" line; returns the worker id it prints."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = re.search(r"SVA worker (\S+) started", self.output())
            if found:
                self.worker_id = found.group(1)
                return self.worker_id
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"worker {self.name} did not start:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as when the machine or the OOM killer takes it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.killed = True

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"worker {self.name} ignored SIGTERM for {timeout}s:\n"
                                     f"{self.output()[-3000:]}")
        self._log.close()
        return self.proc.returncode


class Workers:
    """The worker processes of one scenario; whatever is still running at the end of the
    test is stopped (then killed) by the fixture."""

    def __init__(self):
        self.log_dir = tempfile.mkdtemp(prefix="agrega-faults-")
        self.all: list[WorkerProcess] = []

    def start(self, count: int = 1, *, concurrency: int = 8, wait: bool = True,
              **env: str) -> list[WorkerProcess]:
        """Start ``count`` workers; ``wait=False`` returns at once (the population can be
        changed while they boot; call ``wait_started`` before relying on them)."""
        started = [WorkerProcess(f"w{len(self.all) + i + 1}", concurrency=concurrency, env=env,
                                 log_dir=self.log_dir) for i in range(count)]
        self.all.extend(started)
        if wait:
            self.wait_started()
        return started

    def wait_started(self) -> None:
        for worker in self.all:
            if not worker.worker_id and not worker.killed:
                worker.wait_started()

    def stop_all(self) -> None:
        """SIGTERM every live worker; each must exit 0 (a clean stop writes its outcomes)."""
        codes = {w.name: w.stop() for w in self.all if not w.killed}
        bad = {name: code for name, code in codes.items() if code != 0}
        assert not bad, "workers exited with " + repr(bad) + "\n" + "\n".join(
            w.output()[-2000:] for w in self.all if w.name in bad)

    def cleanup(self) -> None:
        for worker in self.all:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait()
            worker._log.close()
        shutil.rmtree(self.log_dir, ignore_errors=True)


# -- the population and its history ---------------------------------------------------

@dataclass
class Step:
    state: str  # desired state after a change
    confirmed: bool = False  # the platform confirmed it before the next change was made


@dataclass
class Fleet:
    """Contracts with one SVA product each, and the desired-state history of every SVA
    user they ever had (a user removed with its product keeps its history)."""

    integration: object
    product: object
    size: int
    seed: int = 1
    contracts: list = field(default_factory=list)
    history: dict[int, list[Step]] = field(default_factory=dict)
    changes: Counter = field(default_factory=Counter)
    # When each user was asked to change (start and end of the change's transaction).
    touched: dict[int, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    # Customers whose data the platform refuses for good (the sandbox's refuse_emails):
    # their users must end in "erro", absent from the platform, with no attempt pending.
    refused_customers: set = field(default_factory=set)

    def __post_init__(self):
        self.random = random.Random(self.seed)
        self.tag = uuid.uuid4().hex[:8]
        self.number = random.randrange(10**8)

    def populate(self) -> None:
        """Customers with valid, unique registration data; pre-contracts with the
        product (no SVA user yet: automatic creation happens at activation)."""
        for i in range(self.size):
            customer = customer_create(
                name=f"Cliente Falha {self.tag} {i}", document=make_cpf(self.number + i),
                email=f"falha{self.tag}{i}@example.com.br",
                mobile_phone=f"(11) 9{(self.number + i) % 10**8:08d}", city="São Paulo", state="SP",
            )
            contract = contract_create(customer_id=customer.pk)
            contract_add_product(contract=contract, product_id=self.product.pk)
            self.contracts.append(contract)

    def _record(self, contract_id: int, began, ended) -> None:
        for user in sva_user_queryset().filter(contract_id=contract_id):
            state = desired_for(user).state
            steps = self.history.setdefault(user.pk, [])
            if not steps or steps[-1].state != state:
                steps.append(Step(state))
            self.touched[user.pk].append((began, ended))

    def _note_confirmed(self, contract_id: int) -> None:
        """Before a change: which users had the platform already confirm their last
        desired state? That state must then show in their timeline."""
        for user in SvaUser.objects.filter(contract_id=contract_id, pending_work__isnull=True):
            steps = self.history.get(user.pk)
            if steps and user.confirmed_state == steps[-1].state:
                steps[-1].confirmed = True

    def change(self, contract, action: str, *, count: bool = True) -> None:
        """Apply one change through the services and record the desired state after it
        (``count=False``: the initial activation, not counted among the changes)."""
        self._note_confirmed(contract.pk)
        began = timezone.now()
        if action == "remove_product":
            item = contract.products.filter(removed_at__isnull=True, product=self.product).first()
            contract_remove_product(contract=contract, contract_product_id=item.pk)
        elif action == "add_product":
            contract_add_product(contract=contract, product_id=self.product.pk)
        elif action == "change_email":
            customer = contract.customer
            customer_update(customer=customer,
                            email=f"falha{self.tag}{customer.pk}x{uuid.uuid4().hex[:6]}@example.com.br")
        else:
            contract_transition(contract=contract, action=action)
        ended = timezone.now()
        contract.refresh_from_db()
        if count:
            self.changes[action] += 1
        self._record(contract.pk, began, ended)

    def changed_between(self, user_id: int, start, end) -> bool:
        """Whether a change to this user may have committed between two instants."""
        return any(began <= end and ended >= start for began, ended in self.touched.get(user_id, []))

    def activate_all(self) -> None:
        for contract in self.contracts:
            self.change(contract, "activate", count=False)

    def _choose(self, contract) -> str:
        has_product = contract.products.filter(removed_at__isnull=True, product=self.product).exists()
        status, access = contract.status, contract.access_status
        if status == "I":
            return "activate"
        if not has_product:
            return "add_product"
        options = {"change_email": 1}
        if access == "A":
            options.update(block_manual=3, mark_overdue=2, block_automatic=1, deactivate=1, remove_product=1)
        else:
            options.update(release=5, deactivate=1)
        actions, weights = zip(*options.items())
        return self.random.choices(actions, weights)[0]

    def run_program(self, seconds: float, *, among=None, pause: float = 0.02, stop=None) -> int:
        """Change random contracts (of ``among``, default all) for ``seconds``, as
        operators and billing would; returns how many changes were made."""
        deadline = time.monotonic() + seconds
        made = 0
        while time.monotonic() < deadline and not (stop and stop()):
            contract = self.random.choice(among or self.contracts)
            contract.refresh_from_db()
            self.change(contract, self._choose(contract))
            made += 1
            time.sleep(pause)
        return made

    @property
    def total_changes(self) -> int:
        return sum(self.changes.values())


# -- convergence and invariants -------------------------------------------------------

def divergences(fleet: Fleet, platform_users: list[dict]) -> list[tuple[str, str]]:
    """Everything that differs between what Agrega wants, what it believes the platform
    holds and what the platform holds, as (who, what); [] when converged."""
    problems = []
    counts = Counter(u["external_id"] for u in platform_users)
    problems += [(ext, f"exists {n} times on the platform") for ext, n in counts.items() if n > 1]
    on_platform = {u["external_id"]: u for u in platform_users}
    known = set()
    for user in sva_user_queryset().filter(integration=fleet.integration):
        known.add(user.external_id)
        desired = desired_for(user)
        remote = on_platform.get(user.external_id)
        who = user.external_id
        if user.contract.customer_id in fleet.refused_customers and desired.state != "absent":
            if remote is not None:
                problems.append((who, "refused by the platform, yet on it"))
            if not retries_stopped(user):
                problems.append((who, f"refused by the platform but not stopped ({sync_status(user)})"))
            continue
        if user.version != user.synced_version:
            problems.append((who, f"version {user.version} != synced {user.synced_version}"))
        if user.claimed_by:
            problems.append((who, f"still claimed by {user.claimed_by}"))
        if user.confirmed_state != desired.state:
            problems.append((who, f"confirmed {user.confirmed_state} != desired {desired.state}"))
        if desired.state == "absent":
            if remote is not None:
                problems.append((who, "removed in Agrega but still on the platform"))
            continue
        if remote is None:
            problems.append((who, f"missing on the platform (desired {desired.state})"))
            continue
        for key in ("email", "phone", "document", "name", "package_code"):
            if remote[key] != getattr(desired, key):
                problems.append((who, f"platform {key} {remote[key]!r} != {getattr(desired, key)!r}"))
        if remote["status"] != desired.state:
            problems.append((who, f"platform {remote['status']} != desired {desired.state}"))
    problems += [(ext, "on the platform, unknown to Agrega") for ext in on_platform.keys() - known]
    return problems


def wait_converged(fleet: Fleet, account, bound: float) -> tuple[float | None, list[tuple[str, str]]]:
    """(seconds until everything converged, []) or (None, the divergences after ``bound``)."""
    started = time.monotonic()
    while True:
        if not SvaPendingWork.objects.exists():
            problems = divergences(fleet, account.users())
            if not problems:
                return time.monotonic() - started, []
        if time.monotonic() - started > bound:
            return None, divergences(fleet, account.users())
        time.sleep(0.2)


def _state_seen(call: SvaCall) -> str | None:
    """The platform state a call shows, when it shows one."""
    response = call.response or {}
    ok = call.status_code is not None and 200 <= call.status_code < 300
    if call.operation in ("get_user", "delete_user") and call.error_code == "user_not_found":
        return "absent"
    if not ok:
        return None
    if call.operation == "delete_user":
        return "absent"
    if call.operation == "block_user":
        return "blocked"
    if call.operation == "unblock_user":
        return "active"
    if call.operation in ("create_user", "get_user", "update_user"):
        return response.get("status")
    return None


def _compress(states):
    out = []
    for state in states:
        if not out or out[-1] != state:
            out.append(state)
    return out


def _is_subsequence(small, big) -> bool:
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


def timelines(fleet: Fleet) -> dict[int, list[SvaCall]]:
    calls = defaultdict(list)
    for call in SvaCall.objects.filter(sva_user__integration=fleet.integration).order_by("id"):
        calls[call.sva_user_id].append(call)
    return calls


def check_timelines(fleet: Fleet, calls: dict[int, list[SvaCall]]) -> list[str]:
    """No state change lost, none invented, in order: the states each user's timeline
    shows on the platform are states Agrega asked for, in the order it asked, every state
    the platform confirmed before the next change is among them, and the last one is
    the final desired state."""
    problems = []
    refused = set(SvaUser.objects.filter(contract__customer_id__in=fleet.refused_customers)
                  .values_list("pk", flat=True))
    for user_id, steps in fleet.history.items():
        if user_id in refused:
            continue  # never on the platform: checked by divergences
        # Every user starts absent from the platform.
        seen = _compress(["absent"] + [s for s in map(_state_seen, calls.get(user_id, [])) if s is not None])
        wanted = _compress(["absent"] + [s.state for s in steps])
        # A state confirmed twice with only unconfirmed ones between may never have left
        # the platform (the change and its reversal were converged as one): compress.
        confirmed = _compress(s.state for s in steps if s.confirmed)
        final = steps[-1].state
        if not _is_subsequence(seen, wanted):
            problems.append(f"user {user_id}: platform went through {seen}, Agrega asked {wanted}")
        if not _is_subsequence(confirmed, seen):
            problems.append(f"user {user_id}: confirmed {confirmed} not all in the timeline {seen}")
        if seen[-1] != final:
            problems.append(f"user {user_id}: timeline ends in {seen[-1]}, desired {final}")
    return problems


def count_retries(calls: dict[int, list[SvaCall]]) -> int:
    """Attempts that followed a failed attempt of the same user. An attempt is one pass
    of one worker over one user: the calls it wrote together (same worker, same time)."""
    retries = 0
    for user_calls in calls.values():
        attempts: dict[tuple, list[SvaCall]] = {}
        for call in user_calls:
            attempts.setdefault((call.worker, call.created_at), []).append(call)
        failed_before = False
        for attempt in attempts.values():
            if failed_before:
                retries += 1
            failed_before = attempt[-1].error_code not in NORMAL_ERRORS
    return retries


def stats_delta(before: dict, after: dict) -> dict:
    def diff(key):
        a, b = after.get(key, {}), before.get(key, {})
        return {k: a[k] - b.get(k, 0) for k in a if a[k] - b.get(k, 0)}

    return {
        "requests": after["requests_total"] - before["requests_total"],
        "faults": diff("faults_injected"),
        "duplicates_refused": diff("duplicates_refused"),  # {duplicate_external_id, duplicate_email}
    }


def circuit_opened(integration) -> bool:
    row = SvaIntegration.objects.filter(pk=integration.pk).values("circuit_open_until").first()
    return bool(row and row["circuit_open_until"] and row["circuit_open_until"] > timezone.now())


# -- one scenario, start to finish -----------------------------------------------------

@dataclass
class Figures:
    """One row of the table printed at the end of the session."""

    scenario: str
    database: str
    workers: int
    users: int
    changes: int
    calls: int  # platform calls the sandbox received (those of killed workers too)
    recorded: int  # timeline rows Agrega kept
    faults: int
    fault_detail: str
    retries: int
    duplicates: int  # users present more than once on the platform (must be 0)
    refused: str  # 409s: external id already there (settled by a lookup) / e-mail in use
    divergent: int  # users not converged at the end (must be 0)
    converge_seconds: float | None
    bound_seconds: float
    passed: bool


class Run:
    """A scenario: the population, its workers, the sandbox's counters before and after,
    and ``finish`` that checks every invariant and records the figures."""

    def __init__(self, name: str, *, account, admin, integration, product, workers: Workers,
                 figures: list, size: int, seed: int):
        self.name = name
        self.account, self.admin, self.integration = account, admin, integration
        self.workers = workers
        self.figures = figures
        self.fleet = Fleet(integration=integration, product=product, size=size, seed=seed)
        self.fleet.populate()
        self.extra_faults: Counter = Counter()  # faults the sandbox does not count (kills, drops)
        self.before = admin.stats()
        self.converge_seconds: float | None = None
        self.bound = 0.0
        self.problems: list = []
        self.delta: dict = {}
        self.calls: dict[int, list[SvaCall]] = {}

    def faults(self, **switches) -> None:
        """Fault switches for this scenario's partner only."""
        self.admin.set_faults(prefix=self.account.prefix, **switches)

    def clear_faults(self) -> None:
        self.admin.clear_faults()

    def converge(self, bound: float) -> float | None:
        """Wait until converged (at most ``bound`` seconds); the time is a figure."""
        self.bound = bound
        self.converge_seconds, self.problems = wait_converged(self.fleet, self.account, bound)
        return self.converge_seconds

    def finish(self) -> None:
        stop_error = None
        try:
            self.workers.stop_all()
        except AssertionError as exc:
            stop_error = exc
        self.delta = stats_delta(self.before, self.admin.stats())
        self.calls = timelines(self.fleet)
        platform = self.account.users()
        final = divergences(self.fleet, platform)
        timeline_problems = check_timelines(self.fleet, self.calls)
        injected = Counter(self.delta["faults"]) + self.extra_faults
        duplicates = sum(n - 1 for n in Counter(u["external_id"] for u in platform).values())
        refused_emails = self.delta["duplicates_refused"].get("duplicate_email", 0)
        self.figures.append(Figures(
            scenario=self.name, database=connection.vendor,
            workers=len(self.workers.all), users=len(self.fleet.history),
            changes=self.fleet.total_changes, calls=self.delta["requests"],
            recorded=sum(len(c) for c in self.calls.values()),
            faults=sum(injected.values()),
            fault_detail=", ".join(f"{k} {v}" for k, v in sorted(injected.items())),
            retries=count_retries(self.calls), duplicates=duplicates,
            refused=f"{self.refused_external_ids}/{refused_emails}",
            divergent=len({who for who, _ in final}),
            converge_seconds=self.converge_seconds, bound_seconds=self.bound,
            passed=not (final or timeline_problems or stop_error or self.converge_seconds is None),
        ))
        if stop_error:
            raise stop_error
        assert self.converge_seconds is not None, (
            f"not converged within {self.bound:.0f}s after the faults cleared "
            f"({len(self.problems)} problems):\n" + "\n".join(f"{w}: {p}" for w, p in self.problems[:30]))
        assert not final, "\n".join(f"{w}: {p}" for w, p in final[:30])
        assert duplicates == 0
        assert not timeline_problems, "\n".join(timeline_problems[:30])

    @property
    def refused_external_ids(self) -> int:
        """Creations the platform refused because the external id was already there: a
        creation sent again without a lookup first (settled by adopting the user)."""
        return self.delta["duplicates_refused"].get("duplicate_external_id", 0)

    # -- reading the timelines -------------------------------------------------------
    def error_calls(self, *codes: str) -> list[SvaCall]:
        return [c for calls in self.calls.values() for c in calls if c.error_code in codes]

    def workers_in_timeline(self) -> set[str]:
        return {c.worker for calls in self.calls.values() for c in calls}
