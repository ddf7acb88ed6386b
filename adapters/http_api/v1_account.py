"""v1 account calls: quota, statistics, sending enabled."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from sendtrail.adapters.clock import parse_timestamp
from sendtrail.adapters.statistics_projection import bucket_of

from .v1_call import V1Call, V1Handler, V1Result

# GetSendStatistics covers the last two weeks, in 15-minute data points.
STATISTICS_WINDOW: Final = timedelta(days=14)


async def get_send_quota(call: V1Call) -> V1Result:
    sender = call.app.sender
    quota = sender.quota
    return {
        "Max24HourSend": quota.max_24_hour_send,
        "MaxSendRate": quota.max_send_rate,
        "SentLast24Hours": float(sender.sent_last_24_hours(call.app.clock.now())),
    }


async def get_send_statistics(call: V1Call) -> V1Result:
    since = bucket_of(call.app.clock.now() - STATISTICS_WINDOW)
    rows = call.app.engine.read_model.send_statistics(since)
    return {
        "SendDataPoints": [
            {
                "Timestamp": parse_timestamp(bucket),
                "DeliveryAttempts": attempts,
                "Bounces": bounces,
                "Complaints": complaints,
                "Rejects": rejects,
            }
            for bucket, attempts, bounces, complaints, rejects in rows
        ]
    }


async def get_account_sending_enabled(call: V1Call) -> V1Result:
    return {"Enabled": call.app.account.account().sending_enabled}


async def update_account_sending_enabled(call: V1Call) -> V1Result:
    # An omitted boolean is false on AWS's side too.
    enabled = bool(call.params.flag("Enabled"))
    await call.context.manage(
        lambda: call.app.account.update_account(actor=call.caller, sending_enabled=enabled)
    )
    return None


ACTIONS: dict[str, V1Handler] = {
    "GetSendQuota": get_send_quota,
    "GetSendStatistics": get_send_statistics,
    "GetAccountSendingEnabled": get_account_sending_enabled,
    "UpdateAccountSendingEnabled": update_account_sending_enabled,
}
