"""Lone UTF-16 surrogates (bot/surrogates.py): JSON can carry them, nothing can store them.
The widget's own message route and socket are tested in test_widget_api and test_widget_ws."""

from __future__ import annotations

import pytest

from bot.surrogates import has_lone_surrogate
from tests.staff import signed_in_headers

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("text", "lone"),
    [
        ('"plain text, é and 中文"', False),
        ('"\\ud83d\\ude00"', False),  # a pair is one character
        ('"\\uD83D\\uDE00"', False),
        ('"\\\\ud800"', False),  # an escaped backslash, then the letters "ud800"
        ('"\\n\\t\\"\\u00e9"', False),
        ('"\\ud800"', True),
        ('"\\udc00"', True),
        ('"\\ud83d\\u0041"', True),  # high, then no low
        ('"\\ud83d" + "\\ude00"', True),  # not adjacent: two halves, no pair
        ('"\\ude00\\ud83d"', True),  # reversed
        ('"ok \\ud83d', True),  # cut off after the high half
        ('"\\\\\\ud800"', True),  # an escaped backslash, then a real escape
        ('"\ud800"', True),  # already decoded
    ],
)
def test_lone_surrogates_are_found_escaped_or_decoded_and_pairs_are_not(text, lone):
    assert has_lone_surrogate(text) is lone


@pytest.mark.parametrize(
    ("path", "body", "roles"),
    [
        ("/api/ask", b'{"question": "\\ud800 help"}', ()),
        ("/api/agent/canned", b'{"shortcut": "/x", "title": "\\udfff", "text": "t"}', ("admin",)),
        ("/api/kb/preview", b'{"markdown": "# \\ud800"}', ("editor",)),
        ("/api/kb/test", b'{"question": "\\ud800"}', ("editor",)),
    ],
    ids=["ask", "canned", "kb-preview", "kb-test"],
)
def test_every_json_api_refuses_a_lone_surrogate_with_422_not_500(chat_client, path, body, roles):
    headers = signed_in_headers(chat_client.app, *roles) if roles else {}
    refused = chat_client.post(path, content=body, headers=headers | JSON)
    assert refused.status_code == 422
    assert "surrogate" in refused.json()["detail"]["message"]
    fine = body.replace(b"\\ud800", b"\\u00e9").replace(b"\\udfff", b"\\u00e9")
    assert chat_client.post(path, content=fine, headers=headers | JSON).status_code < 300
