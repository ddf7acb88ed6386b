"""SigV4 verification of incoming API requests, with botocore's own signing code.

The verifier rebuilds the request as the client signed it (method, path and query as sent,
only the headers named in ``SignedHeaders``, the body) and asks ``botocore.auth.SigV4Auth``
for the signature it would have made with the configured secret at the request's own
``X-Amz-Date``. Reusing botocore's canonicalisation means a boto3 client and this server can
never disagree about how a request is canonicalised.

Refusals carry AWS's codes and texts. Secrets never leave this module: they are held by the
signers and appear in no exception, log record or repr.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials as BotocoreCredentials

from sendtrail.adapters.config import Credentials

SERVICE: Final = "ses"
ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"
AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION_PART: Final = re.compile(r"(\w+)=([^,\s]*)")
# AWS accepts a signature up to 5 minutes old or 5 minutes in the future.
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)

SIGNATURE_DOES_NOT_MATCH: Final = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
INVALID_CLIENT_TOKEN: Final = "The security token included in the request is invalid."
MISSING_AUTHENTICATION_TOKEN: Final = "Missing Authentication Token"
REQUEST_EXPIRED: Final = "Request has expired."


class AuthFailure(Exception):
    """A refused request, with AWS's ``code`` and ``message`` (the HTTP status depends on the
    API addressed: see ``wire.auth_status``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Headers(Protocol):
    """What the verifier reads of the request's headers (aiohttp's multidict fits)."""

    def get(self, key: str, default: None = None) -> str | None: ...

    def getall(self, key: str, default: list[str]) -> list[str]: ...


@dataclass(frozen=True)
class Authorization:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def utc_now() -> datetime:
    return datetime.now(UTC)


class _VerifyingSigV4Auth(SigV4Auth):
    """botocore's signer, canonicalising exactly the headers the request carries.

    As a client, botocore leaves some hop-by-hop headers out of what it signs (user-agent,
    expect, traceparent...; the list differs between botocore versions). A verifier must take
    the client's ``SignedHeaders`` as they are, and the rebuilt request holds only those.
    """

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name.lower()] = value
        return headers


class SigV4Verifier:
    def __init__(
        self,
        credentials: Iterable[Credentials],
        region: str,
        *,
        service: str = SERVICE,
        now: Callable[[], datetime] = utc_now,
        max_clock_skew: timedelta = MAX_CLOCK_SKEW,
    ) -> None:
        self.region = region
        self.service = service
        self._now = now
        self._max_skew = max_clock_skew
        # One botocore signer per key: it holds the secret, so nothing else has to.
        self._signers = {
            entry.access_key_id: _VerifyingSigV4Auth(
                BotocoreCredentials(entry.access_key_id, entry.secret_access_key),
                service,
                region,
            )
            for entry in credentials
        }

    def verify(self, method: str, path_and_query: str, headers: Headers, body: bytes) -> str:
        """The caller's access key id, or ``AuthFailure``.

        ``path_and_query`` is the request target exactly as sent (still percent-encoded).
        """
        header = headers.get("Authorization")
        if not header:
            raise AuthFailure("MissingAuthenticationToken", MISSING_AUTHENTICATION_TOKEN)
        authorization = parse_authorization(header)
        signer = self._signers.get(authorization.access_key_id)
        if signer is None:
            raise AuthFailure("InvalidClientTokenId", INVALID_CLIENT_TOKEN)
        stamp, signed_at = _request_timestamp(headers)
        if abs(self._now() - signed_at) > self._max_skew:
            raise AuthFailure("RequestExpired", REQUEST_EXPIRED)
        self._check_scope(authorization, stamp)
        _check_payload_hash(headers, body)
        request = _rebuilt_request(method, path_and_query, headers, body, authorization)
        request.context["timestamp"] = stamp
        canonical_request = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical_request)
        expected = signer.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, authorization.signature):
            raise AuthFailure("SignatureDoesNotMatch", SIGNATURE_DOES_NOT_MATCH)
        return authorization.access_key_id

    def _check_scope(self, authorization: Authorization, stamp: str) -> None:
        # AWS's own wording for each scope mismatch; all are signature failures.
        if authorization.date != stamp[:8]:
            raise AuthFailure(
                "SignatureDoesNotMatch",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{authorization.date}' != '{stamp[:8]}', from '{stamp}'.",
            )
        if authorization.region != self.region:
            raise AuthFailure(
                "SignatureDoesNotMatch",
                f"Credential should be scoped to a valid region, not '{authorization.region}'.",
            )
        if authorization.service != self.service:
            raise AuthFailure(
                "SignatureDoesNotMatch",
                f"Credential should be scoped to correct service: '{self.service}'.",
            )
        if authorization.terminator != TERMINATOR:
            raise AuthFailure(
                "SignatureDoesNotMatch",
                f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
                f"not '{authorization.terminator}'.",
            )
        if "host" not in authorization.signed_headers:
            raise AuthFailure(
                "IncompleteSignature",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            )


def parse_authorization(header: str) -> Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthFailure(
            "IncompleteSignature",
            f"Unsupported AWS 'algorithm': '{algorithm}'. Only {ALGORITHM} is supported.",
        )
    parts = dict(_AUTHORIZATION_PART.findall(rest))
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in parts]
    if missing:
        raise AuthFailure(
            "IncompleteSignature",
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing),
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or not all(scope):
        raise AuthFailure(
            "IncompleteSignature",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            "keyid/date/region/service/term.",
        )
    access_key_id, date, region, service, terminator = scope
    return Authorization(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(name for name in parts["SignedHeaders"].lower().split(";") if name),
        signature=parts["Signature"],
    )


def _request_timestamp(headers: Headers) -> tuple[str, datetime]:
    """``X-Amz-Date`` as signed (or the ``Date`` header in that form, as SigV4 allows), and
    the instant it names."""
    stamp = headers.get("X-Amz-Date")
    if stamp:
        signed_at = _amz_date(stamp)
        if signed_at is None:
            raise AuthFailure(
                "IncompleteSignature",
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            )
        return stamp, signed_at
    date = headers.get("Date")
    if date:
        try:
            signed_at = parsedate_to_datetime(date).astimezone(UTC)
        except (TypeError, ValueError):
            pass
        else:
            return signed_at.strftime(AMZ_DATE_FORMAT), signed_at
    raise AuthFailure(
        "IncompleteSignature",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    )


def _amz_date(stamp: str) -> datetime | None:
    """``20261128T101500Z``; sliced by hand, as ``strptime`` would cost more than the HMACs."""
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
        return None
    digits = stamp[:8] + stamp[9:15]
    if not digits.isdigit() or not digits.isascii():
        return None
    try:
        return datetime(
            int(digits[0:4]), int(digits[4:6]), int(digits[6:8]),
            int(digits[8:10]), int(digits[10:12]), int(digits[12:14]), tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        return None


def _check_payload_hash(headers: Headers, body: bytes) -> None:
    """A client may sign a declared body hash instead of the body: it must be the body's."""
    declared = headers.get("X-Amz-Content-SHA256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        raise AuthFailure(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )


def _rebuilt_request(
    method: str,
    path_and_query: str,
    headers: Headers,
    body: bytes,
    authorization: Authorization,
) -> AWSRequest:
    # The host in the URL is never used: 'host' is a signed header, so its value comes from
    # the request's own Host header, as the client sent it.
    request = AWSRequest(method=method, url=f"http://signed.invalid{path_and_query}", data=body)
    for name in authorization.signed_headers:
        for value in headers.getall(name, []):
            request.headers[name] = value  # HTTPHeaders appends: repeated headers stay apart
    return request
