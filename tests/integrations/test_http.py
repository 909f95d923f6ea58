"""The connectors' HTTP client goes only where an admin pointed it."""

from __future__ import annotations

import httpx
import pytest

from portal.integrations.connector import PermanentFailure, RetryLater, raise_for_vendor
from portal.integrations.http import RefusedDestination, client_for


def test_a_host_that_was_not_configured_is_refused(httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    with client_for(["jira.example.test"]) as http, pytest.raises(RefusedDestination):
        http.get(httpserver.url_for("/"))


def test_the_configured_host_is_reached_and_redirects_are_not_followed(httpserver):
    httpserver.expect_request("/move").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    with client_for([f"{httpserver.host}:{httpserver.port}"]) as http:
        answer = http.get(httpserver.url_for("/move"))
    assert answer.status_code == 302  # handed back, not followed


@pytest.mark.parametrize("host", ["169.254.169.254", "metadata.google.internal", "[fe80::1]"])
def test_metadata_and_link_local_addresses_are_refused_even_when_configured(host):
    with client_for([host.strip("[]"), host]) as http, pytest.raises(RefusedDestination):
        http.get(f"http://{host}/latest/meta-data/")


def test_vendor_answers_become_retries_or_permanent_failures():
    request = httpx.Request("POST", "https://vendor.test/x")
    with pytest.raises(RetryLater) as busy:
        raise_for_vendor(
            httpx.Response(429, headers={"Retry-After": "30"}, request=request), "Jira"
        )
    assert busy.value.retry_after == 30
    with pytest.raises(RetryLater):
        raise_for_vendor(httpx.Response(503, text="down", request=request), "Jira")
    with pytest.raises(PermanentFailure) as bad:
        raise_for_vendor(
            httpx.Response(401, json={"errorMessages": ["Token expired"]}, request=request), "Jira"
        )
    assert bad.value.message == "Jira answered 401: Token expired"
