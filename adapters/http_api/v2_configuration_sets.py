"""v2 configuration sets, their options and their event destinations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sendtrail.core import resources as res
from sendtrail.core.acceptance import errors

from .paging import page_of, page_size
from .v2_call import Route, Shape, Tag, V2Call, tags_of

MAX_PAGE_SIZE = 1000
Reason = Literal["BOUNCE", "COMPLAINT"]
TlsPolicy = Literal["REQUIRE", "OPTIONAL"]


class DeliveryOptions(Shape, frozen=True):
    tls_policy: TlsPolicy = "OPTIONAL"
    sending_pool_name: str | None = None
    max_delivery_seconds: int | None = None


class SendingOptions(Shape, frozen=True):
    sending_enabled: bool = False  # an omitted boolean is false on AWS's side too


class SuppressionOptions(Shape, frozen=True):
    suppressed_reasons: list[Reason] | None = None


class ReputationOptions(Shape, frozen=True):
    reputation_metrics_enabled: bool = False


class CreateConfigurationSetRequest(Shape, frozen=True):
    configuration_set_name: str
    delivery_options: DeliveryOptions | None = None
    reputation_options: ReputationOptions | None = None
    sending_options: SendingOptions | None = None
    suppression_options: SuppressionOptions | None = None
    tags: list[Tag] = []


class ListConfigurationSetsRequest(Shape, frozen=True):
    filter: dict[str, str] = {}
    next_token: str | None = None
    page_size: int | None = None


class SnsDestination(Shape, frozen=True):
    topic_arn: str


class EventDestinationDefinition(Shape, frozen=True):
    # UNCONFIRMED: AWS treats an omitted boolean as false, so a destination created without
    # Enabled publishes nothing until enabled.
    enabled: bool = False
    matching_event_types: list[str] = []
    sns_destination: SnsDestination | None = None
    kinesis_firehose_destination: dict[str, object] | None = None
    cloud_watch_destination: dict[str, object] | None = None
    event_bridge_destination: dict[str, object] | None = None
    pinpoint_destination: dict[str, object] | None = None


class CreateEventDestinationRequest(Shape, frozen=True):
    event_destination_name: str
    event_destination: EventDestinationDefinition


class UpdateEventDestinationRequest(Shape, frozen=True):
    event_destination: EventDestinationDefinition


async def create_configuration_set(call: V2Call) -> Mapping[str, object]:
    body = await call.body(CreateConfigurationSetRequest)
    delivery = body.delivery_options or DeliveryOptions()
    configuration_set = res.ConfigurationSet(
        name=body.configuration_set_name,
        created_at=call.app.clock.now(),
        sending_enabled=body.sending_options.sending_enabled if body.sending_options else True,
        tls_policy=delivery.tls_policy,
        max_delivery_seconds=delivery.max_delivery_seconds,
        sending_pool=delivery.sending_pool_name,
        suppressed_reasons=_suppressed_reasons(body.suppression_options),
        reputation_metrics_enabled=(
            body.reputation_options.reputation_metrics_enabled if body.reputation_options else False
        ),
        tags=tuple((tag.key, tag.value) for tag in body.tags),
    )
    await call.context.manage(
        lambda: call.app.account.create_configuration_set(configuration_set, actor=call.caller)
    )
    return {}


async def get_configuration_set(call: V2Call) -> Mapping[str, object]:
    configuration_set = call.app.account.configuration_set(call.path("ConfigurationSetName"))
    reasons = configuration_set.suppressed_reasons
    return {
        "ConfigurationSetName": configuration_set.name,
        "DeliveryOptions": {
            "TlsPolicy": configuration_set.tls_policy,
            "SendingPoolName": configuration_set.sending_pool,
            "MaxDeliverySeconds": configuration_set.max_delivery_seconds,
        },
        "ReputationOptions": {
            "ReputationMetricsEnabled": configuration_set.reputation_metrics_enabled
        },
        "SendingOptions": {"SendingEnabled": configuration_set.sending_enabled},
        "Tags": tags_of(configuration_set.tags),
        "SuppressionOptions": None if reasons is None else {"SuppressedReasons": list(reasons)},
    }


async def list_configuration_sets(call: V2Call) -> Mapping[str, object]:
    """Older botocore: ``GET /v2/email/configuration-sets``; newer: ``POST
    /v2/email/list-configuration-sets`` with the members (and ``Filter``) in the body."""
    if call.request.method == "GET":
        query = ListConfigurationSetsRequest(
            next_token=call.query("NextToken"), page_size=call.query_int("PageSize")
        )
    else:
        query = await call.body(ListConfigurationSetsRequest)
    unknown = set(query.filter) - {"CONFIGURATION_SET_NAME_CONTAINS"}
    if unknown:
        raise errors.bad_request(f"Invalid filter key: {', '.join(sorted(unknown))}")
    contains = query.filter.get("CONFIGURATION_SET_NAME_CONTAINS", "").lower()
    names = [s.name for s in call.app.account.configuration_sets() if contains in s.name.lower()]
    page, token = page_of(
        names,
        lambda name: name,
        next_token=query.next_token,
        size=page_size(query.page_size, maximum=MAX_PAGE_SIZE),
    )
    return {"ConfigurationSets": page, "NextToken": token}


async def delete_configuration_set(call: V2Call) -> Mapping[str, object]:
    name = call.path("ConfigurationSetName")
    await call.context.manage(
        lambda: call.app.account.delete_configuration_set(name, actor=call.caller)
    )
    return {}


async def put_delivery_options(call: V2Call) -> Mapping[str, object]:
    # A PUT states the whole of the delivery options: an omitted member goes back to SES's
    # default rather than keeping its previous value.
    body = await call.body(DeliveryOptions)
    await _update(
        call,
        tls_policy=body.tls_policy,
        sending_pool=body.sending_pool_name,
        max_delivery_seconds=body.max_delivery_seconds,
    )
    return {}


async def put_sending_options(call: V2Call) -> Mapping[str, object]:
    body = await call.body(SendingOptions)
    await _update(call, sending_enabled=body.sending_enabled)
    return {}


async def put_suppression_options(call: V2Call) -> Mapping[str, object]:
    body = await call.body(SuppressionOptions)
    await _update(call, suppressed_reasons=_suppressed_reasons(body))
    return {}


async def create_event_destination(call: V2Call) -> Mapping[str, object]:
    body = await call.body(CreateEventDestinationRequest)
    await _put_destination(call, body.event_destination_name, body.event_destination, True)
    return {}


async def update_event_destination(call: V2Call) -> Mapping[str, object]:
    body = await call.body(UpdateEventDestinationRequest)
    name = call.path("EventDestinationName")
    await _put_destination(call, name, body.event_destination, False)
    return {}


async def get_event_destinations(call: V2Call) -> Mapping[str, object]:
    configuration_set = call.app.account.configuration_set(call.path("ConfigurationSetName"))
    return {
        "EventDestinations": [
            {
                "Name": destination.name,
                "Enabled": destination.enabled,
                "MatchingEventTypes": list(destination.matching_event_types),
                "SnsDestination": (
                    {"TopicArn": destination.sns_topic_arn}
                    if destination.sns_topic_arn is not None
                    else None
                ),
            }
            for destination in configuration_set.event_destinations
        ]
    }


async def delete_event_destination(call: V2Call) -> Mapping[str, object]:
    name = call.path("ConfigurationSetName")
    destination = call.path("EventDestinationName")
    await call.context.manage(
        lambda: call.app.account.delete_event_destination(name, destination, actor=call.caller)
    )
    return {}


async def _update(call: V2Call, **changes: object) -> None:
    name = call.path("ConfigurationSetName")
    await call.context.manage(
        lambda: call.app.account.update_configuration_set(name, actor=call.caller, **changes)
    )


async def _put_destination(
    call: V2Call, name: str, definition: EventDestinationDefinition, create: bool
) -> None:
    others = [
        kind
        for kind, value in (
            ("KinesisFirehoseDestination", definition.kinesis_firehose_destination),
            ("CloudWatchDestination", definition.cloud_watch_destination),
            ("EventBridgeDestination", definition.event_bridge_destination),
            ("PinpointDestination", definition.pinpoint_destination),
        )
        if value is not None
    ]
    if others:
        raise errors.bad_request(
            f"{', '.join(others)} is not supported: event destinations publish to an "
            "SnsDestination whose TopicArn is mapped in [topics]."
        )
    if definition.sns_destination is None:
        raise errors.bad_request("The event destination needs an SnsDestination.")
    destination = res.EventDestination(
        name=name,
        enabled=definition.enabled,
        matching_event_types=tuple(definition.matching_event_types),
        sns_topic_arn=definition.sns_destination.topic_arn,
    )
    configuration_set = call.path("ConfigurationSetName")
    await call.context.manage(
        lambda: call.app.account.put_event_destination(
            configuration_set, destination, actor=call.caller, create=create
        )
    )


def _suppressed_reasons(options: SuppressionOptions | None) -> tuple[str, ...] | None:
    """``None`` leaves the account's settings in force; a list (even empty) overrides them."""
    if options is None or options.suppressed_reasons is None:
        return None
    return tuple(dict.fromkeys(options.suppressed_reasons))


_SET = "/v2/email/configuration-sets/{ConfigurationSetName}"
ROUTES = [
    Route("POST", "/v2/email/configuration-sets", create_configuration_set),
    Route("GET", "/v2/email/configuration-sets", list_configuration_sets),
    Route("POST", "/v2/email/list-configuration-sets", list_configuration_sets),
    Route("GET", _SET, get_configuration_set),
    Route("DELETE", _SET, delete_configuration_set),
    Route("PUT", f"{_SET}/delivery-options", put_delivery_options),
    Route("PUT", f"{_SET}/sending", put_sending_options),
    Route("PUT", f"{_SET}/suppression-options", put_suppression_options),
    Route("GET", f"{_SET}/event-destinations", get_event_destinations),
    Route("POST", f"{_SET}/event-destinations", create_event_destination),
    Route("PUT", f"{_SET}/event-destinations/{{EventDestinationName}}", update_event_destination),
    Route(
        "DELETE", f"{_SET}/event-destinations/{{EventDestinationName}}", delete_event_destination
    ),
]
