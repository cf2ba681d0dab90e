"""Signed customer tokens: a customer needs no account, only a token bound to one conversation."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_SALT = "allhours.widget"
DEFAULT_MAX_AGE_S = 30 * 24 * 3600  # a widget keeps its conversation for a month


class BadToken(Exception):
    """The token is forged, expired, malformed or for another conversation."""


class TokenSigner:
    def __init__(self, secret_key: str, *, max_age_s: int = DEFAULT_MAX_AGE_S) -> None:
        if not secret_key:
            raise ValueError("a secret key is required to sign customer tokens")
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._max_age_s = max_age_s

    def issue(self, conversation_id: str) -> str:
        return self._serializer.dumps({"c": conversation_id})

    def verify(self, token: str, *, conversation_id: str | None = None) -> str:
        """The conversation id the token was issued for; ``conversation_id`` must match it."""
        try:
            payload = self._serializer.loads(token, max_age=self._max_age_s)
        except SignatureExpired as error:
            raise BadToken("the token has expired") from error
        except BadSignature as error:
            raise BadToken("the token is not valid") from error
        bound = payload.get("c") if isinstance(payload, dict) else None
        if not isinstance(bound, str):
            raise BadToken("the token is not valid")
        if conversation_id is not None and bound != conversation_id:
            raise BadToken("the token is for another conversation")
        return bound
