"""SigV4 on the SES API: refusals with AWS's codes, in the wire format of the API addressed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from sendtrail.adapters.http_api.sigv4 import (
    INVALID_CLIENT_TOKEN,
    MISSING_AUTHENTICATION_TOKEN,
    REQUEST_EXPIRED,
    SIGNATURE_DOES_NOT_MATCH,
)
from tests.support.http_api import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    RunningApi,
    raw_call,
    running_api,
    send_signed,
)

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    with running_api(tmp_path_factory.mktemp("sigv4")) as running:
        yield running


def v1_call(client: Any) -> Any:
    return client.get_send_quota()


def v2_call(client: Any) -> Any:
    return client.get_account()


CALLS = [("ses", v1_call), ("sesv2", v2_call)]


def refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = error.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


@pytest.mark.parametrize(("service", "call"), CALLS)
def test_a_correctly_signed_request_is_served(api: RunningApi, service: str, call: Any) -> None:
    assert call(api.client(service))["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(("service", "call"), CALLS)
def test_a_wrong_secret_is_signature_does_not_match(
    api: RunningApi, service: str, call: Any
) -> None:
    with pytest.raises(ClientError) as error:
        call(api.client(service, secret_access_key="not-the-secret"))

    assert refusal(error) == ("SignatureDoesNotMatch", 403, SIGNATURE_DOES_NOT_MATCH)


@pytest.mark.parametrize(("service", "call"), CALLS)
def test_an_unknown_access_key_is_invalid_client_token_id(
    api: RunningApi, service: str, call: Any
) -> None:
    with pytest.raises(ClientError) as error:
        call(api.client(service, access_key_id="AKIDUNKNOWN"))

    assert refusal(error) == ("InvalidClientTokenId", 403, INVALID_CLIENT_TOKEN)


@pytest.mark.parametrize(
    ("service", "call", "status"), [("ses", v1_call, 400), ("sesv2", v2_call, 403)]
)
@pytest.mark.parametrize("offset", [-10, 10], ids=["ten-minutes-old", "ten-minutes-ahead"])
def test_a_signature_more_than_five_minutes_off_is_request_expired(
    api: RunningApi,
    monkeypatch: pytest.MonkeyPatch,
    service: str,
    call: Any,
    status: int,
    offset: int,
) -> None:
    skewed = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=offset)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: skewed)
    with pytest.raises(ClientError) as error:
        call(api.client(service))

    assert refusal(error) == ("RequestExpired", status, REQUEST_EXPIRED)


@pytest.mark.parametrize(("service", "call"), CALLS)
def test_a_signature_for_another_region_does_not_match(
    api: RunningApi, service: str, call: Any
) -> None:
    with pytest.raises(ClientError) as error:
        call(api.client(service, region="eu-west-1"))

    assert refusal(error) == (
        "SignatureDoesNotMatch", 403,
        "Credential should be scoped to a valid region, not 'eu-west-1'.",
    )  # fmt: skip


def test_a_request_without_a_signature_is_missing_authentication_token(api: RunningApi) -> None:
    v1 = raw_call(f"{api.url}/", "POST", b"Action=GetSendQuota&Version=2010-12-01", headers=FORM)
    v2 = raw_call(f"{api.url}/v2/email/account")
    unknown_route = raw_call(f"{api.url}/v2/email/no-such-thing")

    assert v1.status == 403 and v1.headers["Content-Type"].startswith("text/xml")
    assert "<Code>MissingAuthenticationToken</Code>" in v1.text
    assert f"<Message>{MISSING_AUTHENTICATION_TOKEN}</Message>" in v1.text
    assert "<RequestId>" in v1.text
    assert v2.status == 403 and v2.headers["x-amzn-ErrorType"] == "MissingAuthenticationToken"
    assert json.loads(v2.body) == {"message": MISSING_AUTHENTICATION_TOKEN}
    assert unknown_route.status == 403  # authentication comes before routing


def test_a_body_changed_after_signing_does_not_match(api: RunningApi) -> None:
    signed = api.signed("POST", "/", b"Action=GetSendQuota&Version=2010-12-01", FORM)
    tampered = raw_call(
        signed.url, "POST", b"Action=GetSendStatistics&Version=2010-12-01", dict(signed.headers)
    )
    declared = api.signed(
        "POST",
        "/",
        b"Action=GetSendQuota&Version=2010-12-01",
        {**FORM, "X-Amz-Content-SHA256": "0" * 64},
    )

    assert send_signed(signed).status == 200
    assert tampered.status == 403 and "<Code>SignatureDoesNotMatch</Code>" in tampered.text
    assert send_signed(declared).status == 400


class _SignsEveryHeader(SigV4Auth):
    """A client (another SDK) that signs headers botocore itself leaves out, User-Agent."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name.lower()] = value
        headers["host"] = request.url.split("/")[2]
        return headers


def test_the_clients_signed_headers_are_taken_as_they_are(api: RunningApi) -> None:
    request = AWSRequest(
        method="GET",
        url=f"{api.url}/v2/email/suppression/addresses?Reason=COMPLAINT&Reason=BOUNCE",
        headers={"User-Agent": "another-sdk/1.0  (linux)"},
    )
    _SignsEveryHeader(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "ses", REGION).add_auth(
        request
    )

    assert "user-agent" in request.headers["Authorization"]
    assert send_signed(request).status == 200


def test_health_and_metrics_need_no_signature(api: RunningApi) -> None:
    health = raw_call(f"{api.url}/healthz")
    metrics = raw_call(f"{api.url}/metrics")

    assert (health.status, json.loads(health.body)) == (200, {"status": "ok"})
    assert metrics.status == 200 and "sendtrail_queue_depth" in metrics.text


def test_secrets_never_reach_the_logs(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with running_api(tmp_path) as api:
        for service, call in CALLS:
            call(api.client(service))
            with pytest.raises(ClientError):
                call(api.client(service, secret_access_key=f"{SECRET_ACCESS_KEY}x"))
            with pytest.raises(ClientError):
                call(api.client(service, access_key_id="AKIDUNKNOWN"))

    # The server's own records (the client's botocore logs its own signing at DEBUG).
    server = [r for r in caplog.records if r.name.startswith(("sendtrail", "aiohttp"))]
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in server)
    assert any(record.getMessage() == "request refused" for record in server)
    assert SECRET_ACCESS_KEY not in logged
    assert "Signature=" not in logged and "Authorization" not in logged
