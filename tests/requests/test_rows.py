"""Rows of the list and the inbox link and label each request the way the rest of the
portal does, though the link and labels are made once per page."""

from __future__ import annotations

from flask import url_for
from flask_babel import force_locale

from portal.requests.models import RequestStatus
from portal.requests.rows import request_path, status_labels


def test_a_row_links_to_the_same_address_url_for_gives(app):
    with app.test_request_context("/", base_url="http://portal.test/changes/"):
        for number in ("CR-2026-00042", "CR-2026-00042", "X.1_a~b", "odd number/ü?"):
            assert request_path(number) == url_for("requests.detail", number=number)
        assert request_path("CR-2026-00001").startswith("/changes/requests/")


def test_status_labels_are_in_the_readers_language(app):
    with app.test_request_context("/"):
        with force_locale("de"):
            german = status_labels()
        english = status_labels()
    assert english[RequestStatus.COMPLETED.value] == "Completed"
    assert german[RequestStatus.COMPLETED.value] != "Completed"
    assert set(english) == {status.value for status in RequestStatus}
