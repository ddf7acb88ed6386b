"""v2 account-level suppression list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sendtrail.core.acceptance import errors

from .paging import page_size
from .v2_call import Route, Shape, V2Call

MAX_PAGE_SIZE = 1000  # BCv2 ListSuppressedDestinations: PageSize at most 1000
REASONS = ("BOUNCE", "COMPLAINT")


class PutSuppressedDestinationRequest(Shape, frozen=True):
    email_address: str
    reason: Literal["BOUNCE", "COMPLAINT"]


async def put_suppressed_destination(call: V2Call) -> Mapping[str, object]:
    body = await call.body(PutSuppressedDestinationRequest)
    await call.context.manage(
        lambda: call.app.suppression.put(body.email_address, body.reason, actor=call.caller)
    )
    return {}


async def get_suppressed_destination(call: V2Call) -> Mapping[str, object]:
    address = call.path("EmailAddress")
    entry = call.app.suppression.get(address)
    if entry is None:
        # The suppression list's own wording for an address it does not hold.
        raise errors.not_found(f"Email address {address} does not exist on your suppression list.")
    return {
        "SuppressedDestination": {
            "EmailAddress": entry.email_address,
            "Reason": entry.reason,
            "LastUpdateTime": entry.last_update_time,
            "Attributes": (
                {"MessageId": entry.message_id, "FeedbackId": entry.feedback_id}
                if entry.message_id or entry.feedback_id
                else None
            ),
        }
    }


async def list_suppressed_destinations(call: V2Call) -> Mapping[str, object]:
    reasons = call.query_all("Reason")
    unknown = [reason for reason in reasons if reason not in REASONS]
    if unknown:
        raise errors.bad_request(f"Invalid suppression reason: {', '.join(unknown)}")
    page, token = call.app.suppression.list(
        reasons=reasons,
        start=call.query_timestamp("StartDate"),
        end=call.query_timestamp("EndDate"),
        page_size=page_size(call.query_int("PageSize"), maximum=MAX_PAGE_SIZE),
        next_token=call.query("NextToken"),
    )
    return {
        "SuppressedDestinationSummaries": [
            {
                "EmailAddress": entry.email_address,
                "Reason": entry.reason,
                "LastUpdateTime": entry.last_update_time,
            }
            for entry in page
        ],
        "NextToken": token,
    }


async def delete_suppressed_destination(call: V2Call) -> Mapping[str, object]:
    address = call.path("EmailAddress")
    await call.context.manage(lambda: call.app.suppression.delete(address, actor=call.caller))
    return {}


_ADDRESSES = "/v2/email/suppression/addresses"
ROUTES = [
    Route("PUT", _ADDRESSES, put_suppressed_destination),
    Route("GET", _ADDRESSES, list_suppressed_destinations),
    Route("GET", f"{_ADDRESSES}/{{EmailAddress}}", get_suppressed_destination),
    Route("DELETE", f"{_ADDRESSES}/{{EmailAddress}}", delete_suppressed_destination),
]
