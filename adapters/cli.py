"""The ``sendtrail`` command line (see docs/operations.md)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sendtrail.core.acceptance.errors import SesError

from .config import ROLES, ConfigError, Settings, data_dir, load_settings
from .engine import EVENTS_FILE

if TYPE_CHECKING:
    from sendtrail.replay.compare import Verification

    from .read_connection import Readable
    from .suppression import SuppressionList

Handler = Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(f"sendtrail: configuration error: {error}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sendtrail", description="An event-sourced email sending engine like Amazon SES."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", help="TOML configuration file")
        sub.add_argument("--data", help="data directory (default: data_dir from the config)")
        sub.set_defaults(handler=handler)
        return sub

    serve = command("serve", _serve, "run the service in the foreground")
    serve.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="api: accept mail; worker: deliver it and send notifications; all: both "
        "(several processes of each share a PostgreSQL store)",
    )

    history = command("history", _history, "print a message's timeline")
    history.add_argument("message_id")
    history.add_argument("--json", action="store_true", help="one JSON object per event")

    replay = command("replay", _replay, "rebuild every projection from the log")
    replay.add_argument("--verify", action="store_true", help="compare with the live state")
    replay.add_argument("--until", type=_instant, help="rebuild the state as of this instant")

    command("verify", _verify, "check the log's integrity")

    simulate = command("simulate", _simulate, "drive random legal outcome flows")
    simulate.add_argument("--messages", type=int, required=True)
    simulate.add_argument("--seed", type=int, default=0)

    suppression = command("suppression", _suppression_usage, "the account's suppression list")
    suppression_commands = suppression.add_subparsers(dest="suppression_command", metavar="ACTION")
    suppressed = suppression_commands.add_parser("list", help="addresses on the list")
    suppressed.add_argument("--reason", choices=("BOUNCE", "COMPLAINT"), action="append")
    suppressed.add_argument("--limit", type=int, default=1000)
    add = suppression_commands.add_parser("add", help="put addresses on the list")
    add.add_argument("addresses", nargs="+")
    add.add_argument("--reason", choices=("BOUNCE", "COMPLAINT"), default="BOUNCE")
    remove = suppression_commands.add_parser("remove", help="take addresses off the list")
    remove.add_argument("addresses", nargs="+")
    handlers = (
        (suppressed, _suppression_list),
        (add, _suppression_add),
        (remove, _suppression_remove),
    )
    for sub, handler in handlers:
        sub.add_argument("--config", help="TOML configuration file")
        sub.add_argument("--data", help="data directory (default: data_dir from the config)")
        sub.set_defaults(handler=handler)

    notifications = command("notifications", _notifications_usage, "the notification outbox")
    notification_commands = notifications.add_subparsers(dest="notifications_command",
                                                         metavar="ACTION")  # fmt: skip
    listing = notification_commands.add_parser("list", help="notifications and their state")
    listing.add_argument("--failed", action="store_true", help="only parked notifications")
    retry = notification_commands.add_parser("retry", help="send parked notifications again")
    retry.add_argument("ids", nargs="*", help="notification ids")
    retry.add_argument("--all-failed", action="store_true", help="every parked notification")
    for sub in (listing, retry):
        sub.add_argument("--config", help="TOML configuration file")
        sub.add_argument("--data", help="data directory (default: data_dir from the config)")
    listing.set_defaults(handler=_notifications_list)
    retry.set_defaults(handler=_notifications_retry)

    feedback = command("feedback", _feedback_usage, "work with bounce/complaint mail")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", metavar="ACTION")
    classify = feedback_commands.add_parser("classify", help="classify feedback messages")
    classify.add_argument("files", nargs="+")
    classify.add_argument("--json", action="store_true")
    classify.set_defaults(handler=_classify)
    inbox = feedback_commands.add_parser("list", help="feedback mail received")
    inbox.add_argument("--unmatched", action="store_true", help="only what was not tied")
    inbox.add_argument("--limit", type=int, default=100)
    inbox.add_argument("--config", help="TOML configuration file")
    inbox.add_argument("--data", help="data directory (default: data_dir from the config)")
    inbox.set_defaults(handler=_feedback_list)
    return parser


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _log_path(args: argparse.Namespace, settings: Settings) -> Path | None:
    path = data_dir(settings, args.data) / EVENTS_FILE
    if not path.exists():
        print(f"sendtrail: no event log at {path}", file=sys.stderr)
        return None
    return path


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from .service import serve

    return serve(settings, data_dir(settings, args.data), args.role)


def _postgres_url(settings: Settings) -> str | None:
    """The PostgreSQL store the configuration names, if any (the audit commands read it
    instead of ``DATA/events.db``)."""
    return settings.store.url or None


def _history(args: argparse.Namespace, settings: Settings) -> int:
    from sendtrail.replay.history import print_history

    from .sqlite_store import SqliteEventStore
    from .stores import store_at

    url = _postgres_url(settings)
    if url is not None:
        with store_at(url, data_dir(settings, args.data)) as store:
            stream = store.read_stream(args.message_id)
    else:
        path = _log_path(args, settings)
        if path is None:
            return 1
        with SqliteEventStore(path) as store:
            stream = store.read_stream(args.message_id)
    if not stream:
        print(f"sendtrail: unknown message {args.message_id}", file=sys.stderr)
        return 1
    print_history(stream, sys.stdout, as_json=args.json)
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from sendtrail.replay.compare import swap_in, verify_projections
    from sendtrail.replay.progress import ProgressLine
    from sendtrail.replay.rebuild import rebuild
    from sendtrail.replay.summary import summarise

    from .app import publisher_for

    url = _postgres_url(settings)
    if url is not None:
        return _replay_postgres(args, settings, url)
    path = _log_path(args, settings)
    if path is None:
        return 1
    progress = ProgressLine("replay")
    if args.until is not None:
        target = _until_file(path.parent, args.until)
        result = rebuild(
            path, target, until=args.until, progress=progress, publisher=publisher_for(settings)
        )
        progress.finish()
        print(f"state as of {args.until.isoformat()}: {result.events:,} events, in {target}")
        print(json.dumps(summarise(target), indent=2))
        return 0
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        rebuilt = Path(scratch) / "rebuilt.db"
        if args.verify:
            verification = verify_projections(
                path, rebuilt, progress=progress, publisher=publisher_for(settings)
            )
            progress.finish()
            return _report_verification(verification)
        publisher = publisher_for(settings)
        result = rebuild(path, rebuilt, progress=progress, publisher=publisher)
        progress.finish()
        caught_up = swap_in(path, rebuilt, result.last_position, publisher)
        _report_replay(result.events, caught_up, result.seconds)
        return 0


def _until_file(directory: Path, until: datetime) -> Path:
    """Where ``replay --until`` writes: named by the instant in UTC, as the ``Z`` says."""
    return directory / f"replay-until-{until.astimezone(UTC):%Y%m%dT%H%M%SZ}.db"


def _report_replay(events: int, caught_up: int, seconds: float) -> None:
    print(
        f"replay: rebuilt every projection from {events:,} events "
        f"(+{caught_up} appended meanwhile) in {seconds:.1f}s"
    )


def _replay_postgres(args: argparse.Namespace, settings: Settings, url: str) -> int:
    """``replay`` on the PostgreSQL store: the rebuild always goes through a SQLite file
    (the projectors write SQLite); ``--until`` keeps it, in the data directory, and the
    other forms use a temporary directory, as the data directory may not exist."""
    from sendtrail.replay.postgres_rebuild import MissingLog, rebuild_until
    from sendtrail.replay.postgres_swap import replay_in_place
    from sendtrail.replay.postgres_verify import verify_postgres_projections
    from sendtrail.replay.progress import ProgressLine
    from sendtrail.replay.summary import summarise

    from .app import publisher_for

    progress = ProgressLine("replay")
    publisher = publisher_for(settings)
    try:
        if args.until is not None:
            directory = data_dir(settings, args.data)
            directory.mkdir(parents=True, exist_ok=True)
            target = _until_file(directory, args.until)
            result = rebuild_until(url, target, args.until, progress, publisher)
            progress.finish()
            print(
                f"state as of {args.until.isoformat()}: {result.events:,} events, in {target} "
                "(a SQLite file; the PostgreSQL projections are untouched)"
            )
            print(json.dumps(summarise(target), indent=2))
            return 0
        with tempfile.TemporaryDirectory() as scratch:
            rebuilt = Path(scratch) / "rebuilt.db"
            if args.verify:
                verification = verify_postgres_projections(url, rebuilt, progress, publisher)
                progress.finish()
                return _report_verification(verification)
            swapped = replay_in_place(url, rebuilt, progress, publisher)
    except MissingLog as error:
        print(f"sendtrail: {error}", file=sys.stderr)
        return 1
    progress.finish()
    _report_replay(swapped.rebuild.events, swapped.caught_up, swapped.rebuild.seconds)
    return 0


def _report_verification(verification: Verification) -> int:
    for difference in verification.differences[:50]:
        print(difference.describe())
    if verification.differences:
        print(
            f"replay --verify: {len(verification.differences)} differences between "
            f"the rebuild and the live projections",
            file=sys.stderr,
        )
        return 1
    print(
        f"replay --verify: rebuild of {verification.rebuild.events:,} events equals the "
        f"live projections ({verification.rows_compared:,} rows compared, "
        f"{verification.rebuild.events / max(verification.rebuild.seconds, 1e-9):,.0f}"
        " events/s)"
    )
    return 0


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from sendtrail.replay.integrity import check_log, check_store

    from .stores import store_at

    url = _postgres_url(settings)
    if url is not None:
        with store_at(url, data_dir(settings, args.data)) as store:
            report = check_store(store)
    else:
        path = _log_path(args, settings)
        if path is None:
            return 1
        report = check_log(path)
    if report.problem is None:
        print(f"verify: the log is intact ({report.events:,} events)")
        return 0
    print(
        f"verify: the log is damaged at position {report.problem.position}: "
        f"{report.problem.reason}",
        file=sys.stderr,
    )
    return 1


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from sendtrail.replay.progress import ProgressLine
    from sendtrail.replay.simulate import simulate

    if args.messages < 1:
        print("sendtrail: --messages must be at least 1", file=sys.stderr)
        return 2
    progress = ProgressLine("simulate", unit="messages")
    summary = simulate(data_dir(settings, args.data), args.messages, args.seed, progress=progress)
    progress.finish()
    print(
        f"simulated {summary.messages:,} messages to {summary.recipients:,} recipients: "
        f"{summary.events:,} events in {summary.seconds:.1f}s"
    )
    for state, count in summary.final_states.items():
        print(f"  {state:<13} {count:>8,}")
    return 0


def _suppression_usage(args: argparse.Namespace, settings: Settings) -> int:
    print("usage: sendtrail suppression list | add ADDRESS... | remove ADDRESS...", file=sys.stderr)
    return 2


def _suppression_list(args: argparse.Namespace, settings: Settings) -> int:
    with _suppression_list_of(args, settings) as suppression:
        page, _token = suppression.list(reasons=args.reason or (), page_size=args.limit)
        for entry in page:
            print(f"{entry.email_address}\t{entry.reason}\t{entry.last_update_time.isoformat()}")
        print(f"{len(page)} address(es)", file=sys.stderr)
    return 0


def _suppression_add(args: argparse.Namespace, settings: Settings) -> int:
    with _suppression_list_of(args, settings) as suppression:
        for address in args.addresses:
            try:
                suppression.put(address, args.reason, actor="cli")
                print(f"{address}: suppressed ({args.reason})")
            except SesError as error:
                print(f"{address}: {error.message}", file=sys.stderr)
                return 1
    return 0


def _suppression_remove(args: argparse.Namespace, settings: Settings) -> int:
    with _suppression_list_of(args, settings) as suppression:
        status = 0
        for address in args.addresses:
            try:
                suppression.delete(address, actor="cli")
                print(f"{address}: removed")
            except SesError as error:
                print(f"{address}: {error.message}", file=sys.stderr)
                status = 1
    return status


@contextlib.contextmanager
def _suppression_list_of(args: argparse.Namespace, settings: Settings) -> Iterator[SuppressionList]:
    """The data directory's suppression list, through a store of its own (appends from the
    command line and a running service serialise on SQLite's lock and the log's head)."""
    from .clock import SystemClock
    from .engine import Engine
    from .suppression import SuppressionList

    engine = Engine.open(data_dir(settings, args.data))
    try:
        yield SuppressionList(engine.store, SystemClock())
    finally:
        engine.close()


def _notifications_usage(args: argparse.Namespace, settings: Settings) -> int:
    print("usage: sendtrail notifications list [--failed] | retry ID... | --all-failed",
          file=sys.stderr)  # fmt: skip
    return 2


def _notifications_list(args: argparse.Namespace, settings: Settings) -> int:
    from .notifications_cli import list_notifications

    return list_notifications(
        data_dir(settings, args.data), args.failed, sys.stdout, store_url=_postgres_url(settings)
    )


def _notifications_retry(args: argparse.Namespace, settings: Settings) -> int:
    from .notifications_cli import retry_notifications

    if not args.ids and not args.all_failed:
        print("sendtrail: name notification ids, or --all-failed", file=sys.stderr)
        return 2
    return retry_notifications(
        data_dir(settings, args.data),
        args.ids,
        args.all_failed,
        sys.stdout,
        store_url=_postgres_url(settings),
    )


def _feedback_usage(args: argparse.Namespace, settings: Settings) -> int:
    print("usage: sendtrail feedback classify FILE... [--json]", file=sys.stderr)
    return 2


def _feedback_list(args: argparse.Namespace, settings: Settings) -> int:
    from .read_connection import MISSING_TABLE, SqliteFile
    from .read_model import FeedbackEntry, ReadModel
    from .stores import store_at

    def entries_of(source: Readable) -> list[FeedbackEntry]:
        try:
            return ReadModel(source).feedback(unmatched_only=args.unmatched, limit=args.limit)
        except MISSING_TABLE:  # the inbox was never set up: no feedback received yet
            return []

    url = _postgres_url(settings)
    if url is not None:
        with store_at(url, data_dir(settings, args.data)) as store:
            entries = entries_of(store)
    else:
        path = _log_path(args, settings)
        if path is None:
            return 1
        log = SqliteFile(path)
        try:
            entries = entries_of(log)
        finally:
            log.close()
    for entry in entries:
        tied = entry.message_id or f"unmatched: {entry.reason}"
        print(f"{entry.received_at}  {entry.kind:<10} {entry.content_sha256[:12]}  {tied}")
    print(f"{len(entries)} feedback message(s)", file=sys.stderr)
    return 0


def _classify(args: argparse.Namespace, settings: Settings) -> int:
    from .feedback_classify import run_classify

    return run_classify(args.files, args.json, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
