"""v2 account: ``GetAccount`` and the account's sending and suppression settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from .v2_call import Route, Shape, V2Call


class SendingAttributes(Shape, frozen=True):
    sending_enabled: bool = False  # an omitted boolean is false on AWS's side too


class SuppressionAttributes(Shape, frozen=True):
    suppressed_reasons: list[Literal["BOUNCE", "COMPLAINT"]] = []


async def get_account(call: V2Call) -> Mapping[str, object]:
    app = call.app
    account = app.account.account()
    quota = app.sender.quota
    return {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": not app.settings.account.sandbox,
        "SendQuota": {
            "Max24HourSend": quota.max_24_hour_send,
            "MaxSendRate": quota.max_send_rate,
            "SentLast24Hours": float(app.sender.sent_last_24_hours(app.clock.now())),
        },
        "SendingEnabled": account.sending_enabled,
        "SuppressionAttributes": {"SuppressedReasons": list(account.suppressed_reasons)},
    }


async def put_account_sending_attributes(call: V2Call) -> Mapping[str, object]:
    body = await call.body(SendingAttributes)
    await call.context.manage(
        lambda: call.app.account.update_account(
            actor=call.caller, sending_enabled=body.sending_enabled
        )
    )
    return {}


async def put_account_suppression_attributes(call: V2Call) -> Mapping[str, object]:
    body = await call.body(SuppressionAttributes)
    reasons = tuple(dict.fromkeys(body.suppressed_reasons))
    await call.context.manage(
        lambda: call.app.account.update_account(actor=call.caller, suppressed_reasons=reasons)
    )
    return {}


ROUTES = [
    Route("GET", "/v2/email/account", get_account),
    Route("PUT", "/v2/email/account/sending", put_account_sending_attributes),
    Route("PUT", "/v2/email/account/suppression", put_account_suppression_attributes),
]
