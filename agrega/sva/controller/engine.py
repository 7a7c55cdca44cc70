"""Converge one SVA user: compare what Agrega wants with what the platform last
confirmed and make the fewest calls that close the gap.

Runs in a worker thread: it touches no database, only the connector. Its input is a
``WorkItem`` snapshot and its output an ``Outcome`` the main thread writes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agrega.consent.selectors import CONSENT_PROBLEM_FIELD
from agrega.integrations.connectors.base import (
    CallRecord,
    Connector,
    ConnectorError,
    ErrorCode,
    ErrorKind,
    RemoteStatus,
    RemoteUser,
    UserSpec,
    settled,
)
from agrega.sva.choices import SvaState
from agrega.sva.selectors import Desired, registration_check

_STATE_OF = {RemoteStatus.ACTIVE: SvaState.ACTIVE, RemoteStatus.BLOCKED: SvaState.BLOCKED}


@dataclass
class WorkItem:
    id: int
    version: int
    integration_id: int
    external_id: str
    desired: Desired
    use_customer_data: bool
    confirmed_state: str
    confirmed_package: str
    confirmed_email: str
    confirmed_phone: str
    confirmed_document: str
    confirmed_name: str
    creation_attempted: bool
    remote_id: str = ""
    registration_problems: list = field(default_factory=list)


@dataclass
class Outcome:
    item: WorkItem
    # Fields of SvaUser to write (confirmed_* / remote_id / creation_attempted).
    confirmed: dict = field(default_factory=dict)
    error: ConnectorError | None = None
    registration_problems: list | None = None  # None: unchanged
    calls: list[CallRecord] = field(default_factory=list)
    deferred_until: float | None = None  # not attempted (circuit open): try again then

    @property
    def converged(self) -> bool:
        return self.error is None and self.deferred_until is None


def _remember(outcome: Outcome, remote: RemoteUser | None) -> None:
    if remote is None:
        outcome.confirmed.update(
            confirmed_state=SvaState.ABSENT, confirmed_package="", confirmed_email="",
            confirmed_phone="", confirmed_document="", confirmed_name="", remote_id="",
            creation_attempted=False,
        )
        return
    outcome.confirmed.update(
        confirmed_state=_STATE_OF[remote.status],
        confirmed_package=remote.package_code,
        confirmed_email=remote.email,
        confirmed_phone=remote.phone,
        confirmed_document=remote.document,
        confirmed_name=remote.name,
        remote_id=remote.remote_id,
        creation_attempted=True,
    )


def _spec(item: WorkItem, status: RemoteStatus) -> UserSpec:
    d = item.desired
    return UserSpec(
        external_id=item.external_id, name=d.name, email=d.email, phone=d.phone,
        document=d.document, package_code=d.package_code, status=status,
    )


def _known_remote(item: WorkItem) -> RemoteUser | None:
    """What we last confirmed, as a RemoteUser, when we trust it (no lookup needed)."""
    if item.confirmed_state not in (SvaState.ACTIVE, SvaState.BLOCKED):
        return None
    return RemoteUser(
        external_id=item.external_id, remote_id="", name=item.confirmed_name,
        email=item.confirmed_email, phone=item.confirmed_phone, document=item.confirmed_document,
        package_code=item.confirmed_package,
        status=RemoteStatus.ACTIVE if item.confirmed_state == SvaState.ACTIVE else RemoteStatus.BLOCKED,
    )


def converge(connector: Connector, item: WorkItem, outcome: Outcome) -> None:
    """Make the platform hold ``item.desired``. Raises ConnectorError on failure, after
    recording in ``outcome`` whatever it learned (e.g. that a creation was sent)."""
    desired = item.desired
    if desired.state == SvaState.ABSENT:
        if item.confirmed_state == SvaState.ABSENT and not item.creation_attempted:
            _remember(outcome, None)
            return
        connector.delete_user(item.external_id)
        _remember(outcome, None)
        return

    def problems() -> list:
        """The registration check, run only before sending registration data (create or
        update): a block or release with unchanged data needs none of it."""
        if outcome.registration_problems is None:
            outcome.registration_problems = registration_check(
                {"email": desired.email, "phone": desired.phone, "document": desired.document},
                from_customer=item.use_customer_data, name=desired.name,
                rules=getattr(connector, "data_rules", None), platform=getattr(connector, "label", ""),
            ) + [  # the consent gate is set and cleared by the services only (sva/services.py)
                p for p in item.registration_problems if p.get("field") == CONSENT_PROBLEM_FIELD
            ]
        return outcome.registration_problems

    want = RemoteStatus.ACTIVE if desired.state == SvaState.ACTIVE else RemoteStatus.BLOCKED

    remote = _known_remote(item)
    if remote is None and (item.creation_attempted or item.confirmed_state == SvaState.UNKNOWN):
        # A creation may have happened with its answer lost: look it up, never re-create blindly.
        remote = connector.get_user(item.external_id)
        _remember(outcome, remote)

    if remote is None:
        if problems():
            return  # creation waits for the registration data (visible on the contract)
        outcome.confirmed["creation_attempted"] = True
        try:
            remote = connector.create_user(_spec(item, want))
        except ConnectorError as exc:
            if exc.kind == ErrorKind.CONFLICT and exc.code == ErrorCode.DUPLICATE_EXTERNAL_ID:
                remote = connector.get_user(item.external_id)  # it is ours: adopt it
                if remote is None:
                    raise
            else:
                if exc.kind == ErrorKind.UNKNOWN_OUTCOME:
                    outcome.confirmed["confirmed_state"] = SvaState.UNKNOWN
                elif exc.permanent:
                    # refused, so not applied: the next attempt (after a change of data)
                    # creates at once, without looking up a user that cannot exist
                    outcome.confirmed["creation_attempted"] = False
                raise
        _remember(outcome, remote)

    try:
        if (
            remote.email != desired.email
            or remote.phone != desired.phone
            or remote.document != desired.document
            or remote.name != desired.name
            or remote.package_code != desired.package_code
        ) and not problems():
            remote = connector.update_user(_spec(item, want))
            _remember(outcome, remote)
        if remote.status != want:
            remote = settled(remote, connector.block_user(item.external_id) if want == RemoteStatus.BLOCKED
                             else connector.unblock_user(item.external_id))
            _remember(outcome, remote)
    except ConnectorError as exc:
        if exc.kind == ErrorKind.NOT_FOUND:
            # Removed on the platform behind our back: forget it; the next pass re-creates.
            _remember(outcome, None)
        elif exc.kind == ErrorKind.UNKNOWN_OUTCOME:
            outcome.confirmed["confirmed_state"] = SvaState.UNKNOWN
        raise
