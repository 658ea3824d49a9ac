"""Credentials, zone, threshold and the budget check."""

from __future__ import annotations

import pytest

from audit.core.errors import ApiError, BudgetExceededError, ConfigError
from audit.source.autotask import Credentials, ThresholdInfo, ZoneInfo, check_budget


def test_credentials_from_env_and_masked_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", "user@tenant.example")
    monkeypatch.setenv("AUTOTASK_SECRET", "very-secret-value")
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", "CODE-12345")
    creds = Credentials.from_env()
    assert (creds.username, creds.secret, creds.integration_code) == (
        "user@tenant.example", "very-secret-value", "CODE-12345",
    )  # fmt: skip
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "very-secret-value" not in text and "CODE-12345" not in text and "user@tenant" not in text
        assert "***" in text
    assert creds.headers() == {
        "ApiIntegrationCode": "CODE-12345",
        "UserName": "user@tenant.example",
        "Secret": "very-secret-value",
        "Content-Type": "application/json",
    }


def test_credentials_from_env_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTASK_USERNAME", "user@tenant.example")
    monkeypatch.setenv("AUTOTASK_SECRET", "   ")  # blank counts as missing
    with pytest.raises(ConfigError) as info:
        Credentials.from_env()
    message = str(info.value)
    assert "AUTOTASK_SECRET" in message and "AUTOTASK_INTEGRATION_CODE" in message
    assert "AUTOTASK_USERNAME" not in message
    assert info.value.exit_code == 2


def test_credentials_from_explicit_mapping() -> None:
    env = {"AUTOTASK_USERNAME": "u1", "AUTOTASK_SECRET": "s1", "AUTOTASK_INTEGRATION_CODE": "c1"}
    assert Credentials.from_env(env).secret == "s1"
    with pytest.raises(ConfigError, match="empty secret"):
        Credentials("u", "", "c")


@pytest.mark.parametrize(
    "url",
    [
        "https://webservices5.autotask.net/ATServicesRest/",
        "https://webservices5.autotask.net/ATServicesRest",
        "https://webservices5.autotask.net/ATServicesRest/V1.0",
        "https://webservices5.autotask.net/ATServicesRest/v1.0/",
    ],
)
def test_zone_url_with_or_without_slash(url: str) -> None:
    zone = ZoneInfo.from_url(url)
    assert zone.url == "https://webservices5.autotask.net/ATServicesRest/"
    assert zone.api_base == "https://webservices5.autotask.net/ATServicesRest/V1.0/"
    assert zone.web_url == "https://ww5.autotask.net/"  # Autotask's naming: webservicesN -> wwN


def test_zone_from_api_and_ticket_url() -> None:
    zone = ZoneInfo.from_api(
        {
            "zoneName": "Z",
            "url": "https://webservices2.autotask.net/ATServicesRest/",
            "webUrl": "https://ww2.autotask.net",
            "ci": 7,
        }
    )
    assert zone.ticket_url(42) == "https://ww2.autotask.net/Mvc/ServiceDesk/TicketDetail.mvc?ticketId=42"
    assert zone.ci == 7 and zone.zone_name == "Z"
    sandbox = ZoneInfo.from_url("http://127.0.0.1:8080/ATServicesRest")
    assert sandbox.web_url == "http://127.0.0.1:8080/"
    with pytest.raises(ApiError, match="zone url"):
        ZoneInfo.from_api({"zoneName": "Z"})
    with pytest.raises(ConfigError, match="absolute"):
        ZoneInfo.from_url("webservices2.autotask.net/ATServicesRest")


def test_threshold_remaining_and_parsing() -> None:
    info = ThresholdInfo.from_api(
        {
            "externalRequestThreshold": 10000,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": 124,
        }
    )
    assert info.remaining == 9876
    assert ThresholdInfo(100, 60, 150).remaining == 0
    with pytest.raises(ApiError, match="currentTimeframeRequestCount"):
        ThresholdInfo.from_api({"externalRequestThreshold": 10000, "requestThresholdTimeframe": 60})


def test_check_budget() -> None:
    info = ThresholdInfo(10000, 60, 6000)  # 4000 left, half of it is 2000
    assert check_budget(2000, info) == 2000
    assert check_budget(3000, info, share=0.8) == 3200
    with pytest.raises(BudgetExceededError) as exc:
        check_budget(2001, info)
    message = str(exc.value)
    assert "2001" in message and "at most 2000" in message and "4000 left" in message
    assert "6000 already used" in message
    assert exc.value.exit_code == 3
    with pytest.raises(BudgetExceededError):
        check_budget(1, ThresholdInfo(10000, 60, 10000))
    with pytest.raises(ValueError):
        check_budget(10, info, share=0)
    with pytest.raises(ValueError):
        check_budget(-1, info)
