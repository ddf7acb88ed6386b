"""v1 configuration sets (create, describe, list, delete, sending enabled)."""

from __future__ import annotations

from typing import Final

from sendtrail.core import resources as res
from sendtrail.core.acceptance import errors
from sendtrail.core.acceptance.errors import Condition, SesError

from .paging import page_of, page_size
from .v1_call import V1Call, V1Handler, V1Result, missing

MAX_ITEMS: Final = 1000
# v2 event type names as v1 spells them; v1 has no DELIVERY_DELAY or SUBSCRIPTION.
V1_EVENT_TYPES: Final = {
    "SEND": "send",
    "REJECT": "reject",
    "BOUNCE": "bounce",
    "COMPLAINT": "complaint",
    "DELIVERY": "delivery",
    "OPEN": "open",
    "CLICK": "click",
    "RENDERING_FAILURE": "renderingFailure",
}
V1_TLS_POLICY: Final = {"REQUIRE": "Require", "OPTIONAL": "Optional"}
ATTRIBUTES: Final = ("eventDestinations", "trackingOptions", "deliveryOptions", "reputationOptions")


async def create_configuration_set(call: V1Call) -> V1Result:
    params = call.params
    if not params.has("ConfigurationSet"):
        raise missing("ConfigurationSet")
    configuration_set = res.ConfigurationSet(
        name=params.required("ConfigurationSet.Name"), created_at=call.app.clock.now()
    )
    try:
        await call.context.manage(
            lambda: call.app.account.create_configuration_set(configuration_set, actor=call.caller)
        )
    except SesError as error:
        if error.condition is Condition.BAD_REQUEST:
            # BCv1 names this failure InvalidConfigurationSetException; the text stays.
            raise errors.bad_request(error.message, v1_code="InvalidConfigurationSet") from None
        raise
    return {}


async def delete_configuration_set(call: V1Call) -> V1Result:
    name = call.params.required("ConfigurationSetName")
    await call.context.manage(
        lambda: call.app.account.delete_configuration_set(name, actor=call.caller)
    )
    return {}


async def describe_configuration_set(call: V1Call) -> V1Result:
    params = call.params
    configuration_set = call.app.account.configuration_set(params.required("ConfigurationSetName"))
    wanted = params.members("ConfigurationSetAttributeNames")
    unknown = [name for name in wanted if name not in ATTRIBUTES]
    if unknown:
        raise errors.bad_request(f"Invalid ConfigurationSetAttributeNames: {', '.join(unknown)}")
    result: dict[str, object] = {"ConfigurationSet": {"Name": configuration_set.name}}
    if "eventDestinations" in wanted:
        result["EventDestinations"] = [
            {
                "Name": destination.name,
                "Enabled": destination.enabled,
                "MatchingEventTypes": [
                    V1_EVENT_TYPES[kind]
                    for kind in destination.matching_event_types
                    if kind in V1_EVENT_TYPES
                ],
                "SNSDestination": (
                    {"TopicARN": destination.sns_topic_arn}
                    if destination.sns_topic_arn is not None
                    else None
                ),
            }
            for destination in configuration_set.event_destinations
        ]
    if "deliveryOptions" in wanted:
        result["DeliveryOptions"] = {"TlsPolicy": V1_TLS_POLICY[configuration_set.tls_policy]}
    if "reputationOptions" in wanted:
        result["ReputationOptions"] = {
            "SendingEnabled": configuration_set.sending_enabled,
            "ReputationMetricsEnabled": configuration_set.reputation_metrics_enabled,
        }
    return result


async def list_configuration_sets(call: V1Call) -> V1Result:
    params = call.params
    page, token = page_of(
        call.app.account.configuration_sets(),
        lambda configuration_set: configuration_set.name,
        next_token=params.text("NextToken"),
        size=page_size(params.integer("MaxItems"), maximum=MAX_ITEMS, name="MaxItems"),
    )
    return {
        "ConfigurationSets": [{"Name": configuration_set.name} for configuration_set in page],
        "NextToken": token,
    }


async def update_configuration_set_sending_enabled(call: V1Call) -> V1Result:
    params = call.params
    name = params.required("ConfigurationSetName")
    enabled = params.flag("Enabled", required=True)
    await call.context.manage(
        lambda: call.app.account.update_configuration_set(
            name, actor=call.caller, sending_enabled=enabled
        )
    )
    return None


ACTIONS: dict[str, V1Handler] = {
    "CreateConfigurationSet": create_configuration_set,
    "DeleteConfigurationSet": delete_configuration_set,
    "DescribeConfigurationSet": describe_configuration_set,
    "ListConfigurationSets": list_configuration_sets,
    "UpdateConfigurationSetSendingEnabled": update_configuration_set_sending_enabled,
}
