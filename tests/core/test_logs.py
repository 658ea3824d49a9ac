"""Secret redaction: one function, every length of secret masked, messages left readable."""

from __future__ import annotations

import logging

import httpx
import pytest

from audit.core.errors import ApiError
from audit.core.logs import SECRET_ENV_VARS, RedactingFilter, redact
from audit.source.autotask import AutotaskClient, Credentials, ZoneInfo


@pytest.fixture(autouse=True)
def _no_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def test_short_secret_masks_whole_tokens_only() -> None:
    text = "Autotask request failed after 7 attempts: user a rejected (user=a, 'a')"
    assert (
        redact(text, ["a"]) == "Autotask request failed after 7 attempts: user *** rejected (user=***, '***')"
    )


def test_long_secret_masked_inside_other_text() -> None:
    assert (
        redact("tokenS3cr3t-Value-9f7Qtail and S3cr3t-Value-9f7Q", ["S3cr3t-Value-9f7Q"])
        == "token***tail and ***"
    )


def test_url_encoded_forms_are_masked() -> None:
    assert redact("GET /zoneInformation?user=api%40tenant.example", ["api@tenant.example"]) == (
        "GET /zoneInformation?user=***"
    )
    assert redact("q=x+y&z", ["x y"]) == "q=***&z"


def test_longer_value_masked_before_a_shorter_one_it_contains() -> None:
    assert redact("ab abcdefgh", ["ab", "abcdefgh"]) == "*** ***"


def test_environment_secrets_short_and_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", "a")
    monkeypatch.setenv("AUTOTASK_SECRET", "LongSecretValue")
    assert (
        redact("a request failed after 7 attempts: LongSecretValue!")
        == "*** request failed after 7 attempts: ***!"
    )


def test_log_filter_uses_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", "a")
    record = logging.LogRecord(
        "audit", logging.WARNING, __file__, 1, "user %s failed after %d attempts", ("a", 7), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "user *** failed after 7 attempts"


def test_client_error_with_short_username_is_readable() -> None:
    """QA: AUTOTASK_USERNAME=a turned the error into 'Autot***sk request f***iled ***fter 7 ***ttempts'."""
    credentials = Credentials(username="a", secret="S3cr3t-Value-9f7Q", integration_code="IC")
    zone = ZoneInfo(
        zone_name="Z", url="https://webservices5.autotask.net/ATServicesRest/", web_url="https://x/", ci=5
    )

    def always_503(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="user a is busy; Service Unavailable")

    client = AutotaskClient(
        zone,
        credentials,
        transport=httpx.MockTransport(always_503),
        sleep=lambda s: None,
        seed=1,
        max_retries=2,
    )
    with client, pytest.raises(ApiError) as info:
        client.threshold()
    message = str(info.value)
    assert "Autotask request failed after 3 attempts" in message
    assert "user *** is busy" in message
    assert "Service Unavailable" in message


SLASHY = "Qw/+Er=Ty/Ui+Op==As"


def test_redact_masks_before_cutting_and_masks_a_prefix_left_at_the_cut() -> None:
    page = "x" * 290 + "Secret: " + SLASHY + " trailing"
    for limit in range(290, 320):  # the cut anywhere around and inside the secret
        shown = redact(page, [SLASHY], limit=limit)
        assert len(shown) <= limit + 1 + len("***")
        for k in range(2, len(SLASHY) + 1):
            assert SLASHY[:k] not in shown, (limit, shown[-30:])
    assert redact("short " + SLASHY, [SLASHY], limit=300) == "short ***"


def test_redact_knows_the_encoded_forms_of_a_secret() -> None:
    import re
    from urllib.parse import quote, quote_plus

    lower_hex = re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(SLASHY, safe=""))
    for form in (quote(SLASHY, safe=""), quote_plus(SLASHY, safe=""), lower_hex, SLASHY.replace("/", "\\/")):
        assert redact(f"echo: {form}!", [SLASHY]) == "echo: ***!", form
