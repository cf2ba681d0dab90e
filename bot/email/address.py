"""Signed reply addresses: ``support+<conversation>.<signature>@domain``.

The signature is an HMAC of the conversation id with the app's secret key, so only allhours
can make a reply address for a conversation: a stranger who guesses or sees a conversation id
still cannot write into it. Lower-case hex throughout, because mail systems may change the
case of a local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from email.utils import parseaddr

_SIGNATURE_CHARS = 16  # 80 bits, base32: the local part stays under 64 characters
_TAG = re.compile(r"^(?P<conversation>[0-9a-f]{1,32})\.(?P<signature>[a-z2-7]+)$")


class BadReplyAddress(ValueError):
    """A reply address of ours whose signature does not match: forged or mangled."""


def _sign(secret: str, conversation_id: str) -> str:
    mac = hmac.new(secret.encode(), f"email-reply:{conversation_id}".encode(), hashlib.sha256)
    return base64.b32encode(mac.digest()).decode().lower()[:_SIGNATURE_CHARS]


def _split(address: str) -> tuple[str, str]:
    local, _, domain = parseaddr(address)[1].rpartition("@")
    return local.lower(), domain.lower()


def reply_address(conversation_id: str, *, support: str, domain: str, secret: str) -> str:
    """The address a customer replies to for this conversation."""
    local, support_domain = _split(support)
    return f"{local}+{conversation_id}.{_sign(secret, conversation_id)}@{domain or support_domain}"


def is_ours(address: str, *, support: str, domain: str) -> bool:
    """The support address itself or one of its ``+tag`` variants (what the inbox accepts)."""
    local, at = _split(address)
    support_local, support_domain = _split(support)
    if at not in {support_domain, (domain or support_domain).lower()}:
        return False
    return local == support_local or local.startswith(support_local + "+")


def read_reply_address(address: str, *, support: str, domain: str, secret: str) -> str | None:
    """The conversation a reply address names; None for the plain support address (a new
    conversation, or one found by its headers). Raises ``BadReplyAddress`` for a tag that
    is not ours: a forged signature, or a malformed tag."""
    local, _ = _split(address)
    support_local, _ = _split(support)
    if not is_ours(address, support=support, domain=domain) or local == support_local:
        return None
    match = _TAG.match(local[len(support_local) + 1 :])
    if match is None:
        raise BadReplyAddress(f"{address!r} is not a reply address of ours")
    conversation_id = match["conversation"]
    if not hmac.compare_digest(match["signature"], _sign(secret, conversation_id)):
        raise BadReplyAddress(f"the signature of {address!r} does not match")
    return conversation_id
