"""Random commands and outcomes, for several recipients, through the real core and store.

After every step: nothing illegal was recorded, terminal states absorbed, and the engine's
state agrees with a model driven by the lifecycle table. At the end: versions contiguous,
the hash chain verifies, a rebuild equals the live projections, and tampering with any
stored event is detected.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from sendtrail.adapters.clock import ManualClock
from sendtrail.adapters.engine import Engine
from sendtrail.core import commands as cmd
from sendtrail.core.chain import RawEvent, first_break
from sendtrail.core.lifecycle import NEXT_STATE, TERMINAL_STATES, IllegalTransition, State
from sendtrail.replay.compare import verify_projections
from sendtrail.replay.integrity import check_log

ADDRESSES = ("a@example.net", "b@example.org", "c@example.com")


def _command(kind: str, message_id: str, recipient: str, jitter: float) -> cmd.Command:
    common = {"message_id": message_id}
    match kind:
        case "RejectContent":
            return cmd.RejectContent(**common, detail="Eicar")
        case "FailRendering":
            return cmd.FailRendering(**common, template_name="t", error_message="missing")
        case "StartAttempt":
            return cmd.StartAttempt(**common, recipients=(recipient,))
        case "SuppressRecipient":
            return cmd.SuppressRecipient(
                **common, recipient=recipient, reason="BOUNCE", feedback_id="f"
            )
        case "ReportDelivered":
            return cmd.ReportDelivered(**common, recipient=recipient, smtp_response="250 ok")
        case "ReportSoftFailure":
            return cmd.ReportSoftFailure(
                **common,
                recipient=recipient,
                status="4.0.0",
                diagnostic_code="smtp; 451 4.0.0 later",
                delay_type="General",
                jitter=jitter,
            )
        case "ReportHardFailure":
            return cmd.ReportHardFailure(
                **common,
                recipient=recipient,
                bounce_type="Permanent",
                bounce_subtype="General",
                status="5.0.0",
                diagnostic_code="smtp; 550 no",
                feedback_id="f",
            )
        case "ExpireDelivery":
            return cmd.ExpireDelivery(
                **common, recipient=recipient, feedback_id="f", max_delivery_seconds=50_400
            )
        case "ReportBounce":
            return cmd.ReportBounce(
                **common,
                recipient=recipient,
                bounce_type="Permanent",
                bounce_subtype="General",
                feedback_id="f",
            )
        case "ReportComplaint":
            return cmd.ReportComplaint(**common, recipient=recipient, feedback_id="f")
        case "ReportAutoReply":
            return cmd.ReportAutoReply(**common, recipient=recipient, feedback_id="f")
    raise AssertionError(kind)


# The trigger each command fires, and whether it moves every recipient at once.
TRIGGERS = {
    "RejectContent": ("ContentRejected", True),
    "FailRendering": ("RenderingFailed", True),
    "StartAttempt": ("AttemptStarted", False),
    "SuppressRecipient": ("RecipientSuppressed", False),
    "ReportDelivered": ("RecipientDelivered", False),
    "ReportSoftFailure": ("RecipientDeferred", False),
    "ReportHardFailure": ("RecipientBounced", False),
    "ExpireDelivery": ("DeliveryExpired", False),
    "ReportBounce": ("BounceReported", False),
    "ReportComplaint": ("ComplaintReported", False),
    "ReportAutoReply": ("AutoReplyReported", False),
}


class LifecycleMachine(RuleBasedStateMachine):
    messages = Bundle("messages")

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="sendtrail-props-"))
        self.clock = ManualClock(datetime(2026, 2, 1, tzinfo=UTC))
        self.engine = Engine.open(self.directory, clock=self.clock, durable=False)
        self.model: dict[tuple[str, str], State] = {}
        self.recipients: dict[str, tuple[str, ...]] = {}
        self.counter = 0

    @rule(
        target=messages,
        count=st.integers(1, 3),
        valid=st.booleans(),
    )
    def request(self, count: int, valid: bool) -> str:
        self.counter += 1
        message_id = f"m{self.counter}"
        destinations = ADDRESSES[:count]
        rejection = None if valid else cmd.Rejection("MessageRejected", "no")
        self.engine.execute(
            cmd.RequestSend(
                message_id=message_id,
                source="s@example.com",
                destinations=destinations,
                rejection=rejection,
            )
        )
        self.recipients[message_id] = destinations
        for address in destinations:
            self.model[(message_id, address)] = State.ACCEPTED if valid else State.REJECTED
        return message_id

    @rule(
        message_id=messages,
        kind=st.sampled_from(sorted(TRIGGERS)),
        pick=st.integers(0, 2),
        jitter=st.floats(0, 0.999),
        seconds=st.integers(0, 4000),
    )
    def act(self, message_id: str, kind: str, pick: int, jitter: float, seconds: int) -> None:
        self.clock.advance(seconds)
        destinations = self.recipients[message_id]
        recipient = destinations[pick % len(destinations)]
        trigger, whole_message = TRIGGERS[kind]
        moved = destinations if whole_message else (recipient,)
        legal = all((self.model[(message_id, a)], trigger) in NEXT_STATE for a in moved)
        before = self.engine.store.last_position()
        try:
            self.engine.execute(_command(kind, message_id, recipient, jitter))
        except IllegalTransition:
            assert not legal, f"{kind} refused although the table allows it"
            assert self.engine.store.last_position() == before, "an illegal move was recorded"
            return
        assert legal, f"{kind} accepted although the table forbids it"
        for address in moved:
            self.model[(message_id, address)] = NEXT_STATE[
                (self.model[(message_id, address)], trigger)
            ]

    @invariant()
    def engine_agrees_with_the_model_and_terminal_states_absorb(self) -> None:
        for message_id, destinations in self.recipients.items():
            state = self.engine.state(message_id)
            assert state is not None
            for address in destinations:
                assert state.recipient(address).status == self.model[(message_id, address)]

    def teardown(self) -> None:
        try:
            self.engine.close()
            log = self.directory / "events.db"
            for (message_id, address), status in self.model.items():
                if status in TERMINAL_STATES:
                    assert status == self._projected(log, message_id, address)
            assert first_break(self._raw(log)) is None
            verification = verify_projections(log, self.directory / "rebuilt.db")
            assert verification.differences == []
            self._tampering_is_detected(log)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _projected(self, log: Path, message_id: str, address: str) -> str:
        db = sqlite3.connect(log)
        try:
            row = db.execute(
                "SELECT status FROM recipients WHERE message_id = ? AND address = ?",
                (message_id, address),
            ).fetchone()
        finally:
            db.close()
        return row[0]

    def _raw(self, log: Path) -> list[RawEvent]:
        db = sqlite3.connect(log)
        try:
            return [
                RawEvent(*row)
                for row in db.execute(
                    "SELECT position, stream_id, version, type, schema, data, recorded_at, hash "
                    "FROM events ORDER BY position"
                )
            ]
        finally:
            db.close()

    def _tampering_is_detected(self, log: Path) -> None:
        """Edit, delete and reorder stored rows in copies of the file: verify names each."""
        rows = self._raw(log)
        if len(rows) < 2:
            return
        edits = {
            "edit": "UPDATE events SET data = data || x'20' WHERE position = :p",
            "delete": "DELETE FROM events WHERE position = :p",
            "reorder": (
                "UPDATE events SET position = -1 WHERE position = :p; "
                "UPDATE events SET position = :p WHERE position = :p + 1; "
                "UPDATE events SET position = :p + 1 WHERE position = -1"
            ),
        }
        for victim in {0, (len(rows) - 1) // 2, len(rows) - 2}:
            row = rows[victim]
            for name, sql in edits.items():
                copy = self.directory / f"tampered-{name}.db"
                shutil.copyfile(log, copy)
                db = sqlite3.connect(copy)
                db.execute("DROP TABLE projection_positions")  # judge the chain alone
                for statement in sql.split("; "):
                    db.execute(statement, {"p": row.position})
                db.commit()
                db.close()
                report = check_log(copy)
                assert report.problem is not None, f"{name} at {row.position} went unnoticed"
                assert report.problem.position == row.position, (name, report.problem)


LifecycleMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLifecycle = LifecycleMachine.TestCase
