"""swaks, a widely used SMTP test client, submits through STARTTLS and AUTH LOGIN."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.smtp_submission_server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, SubmissionServer

SWAKS = shutil.which("swaks")

pytestmark = pytest.mark.skipif(
    SWAKS is None, reason="swaks is not installed (Debian package 'swaks': apt-get install swaks)"
)


def test_swaks_sends_with_starttls_and_auth_login(tmp_path: Path) -> None:
    assert SWAKS is not None
    with SubmissionServer(tmp_path) as server:
        result = subprocess.run(
            [
                SWAKS,
                "--server", f"127.0.0.1:{server.port}",
                "--tls",
                "--auth", "LOGIN",
                "--auth-user", ACCESS_KEY_ID,
                "--auth-password", SECRET_ACCESS_KEY,
                "--from", "news@example.com",
                "--to", "reader@example.net",
                "--header", "Subject: from swaks",
                "--body", "Sent by swaks.",
                "--timeout", "10",
            ],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "<~  235 Authentication successful." in result.stdout
        accepted = re.search(r"<~  250 Ok (\S+)", result.stdout)
        assert accepted is not None, result.stdout
        assert server.app.engine.read_model.message(accepted[1]) is not None
