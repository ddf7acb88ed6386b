"""The SES SMTP password derived from a secret key (reference 1.6, DG:smtp-credentials).

The expected values are computed here independently of sendtrail's implementation: once with
the ``cryptography`` package's HMAC, step by step as the documentation states the algorithm,
and once pinned as a constant computed with the OpenSSL command line:

    k=$(printf 11111111 | openssl dgst -sha256 -mac HMAC -macopt "key:AWS4$SECRET")
    for m in us-east-1 ses aws4_request SendRawEmail; do
      k=$(printf %s "$m" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$k" | cut -d' ' -f2)
    done
    (printf '\\x04'; printf %s "$k" | xxd -r -p) | base64
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from sendtrail.adapters.smtp_submission import smtp_password

AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example key
OPENSSL_VECTOR_US_EAST_1 = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"


def documented_derivation(secret: str, region: str) -> str:
    def sign(key: bytes, message: str) -> bytes:
        mac = HMAC(key, hashes.SHA256())
        mac.update(message.encode())
        return mac.finalize()

    date_key = sign(b"AWS4" + secret.encode(), "11111111")
    region_key = sign(date_key, region)
    service_key = sign(region_key, "ses")
    terminal_key = sign(service_key, "aws4_request")
    signature = sign(terminal_key, "SendRawEmail")
    return base64.b64encode(bytes([0x04]) + signature).decode()


def test_the_known_vector() -> None:
    assert smtp_password(AWS_EXAMPLE_SECRET, "us-east-1") == OPENSSL_VECTOR_US_EAST_1
    assert documented_derivation(AWS_EXAMPLE_SECRET, "us-east-1") == OPENSSL_VECTOR_US_EAST_1


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
@pytest.mark.parametrize("secret", [AWS_EXAMPLE_SECRET, "secret", "sécret+/="])
def test_matches_the_documented_algorithm(secret: str, region: str) -> None:
    password = smtp_password(secret, region)
    assert password == documented_derivation(secret, region)
    assert len(base64.b64decode(password)) == 33  # version byte + SHA-256


def test_the_password_depends_on_the_region() -> None:
    assert smtp_password("secret", "us-east-1") != smtp_password("secret", "eu-west-1")
