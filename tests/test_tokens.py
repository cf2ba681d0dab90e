import pytest
from itsdangerous import URLSafeTimedSerializer

from bot.chat.tokens import BadToken, TokenSigner

SECRET = "s" * 32


def test_a_token_names_its_conversation():
    signer = TokenSigner(SECRET)
    token = signer.issue("abc")
    assert signer.verify(token) == "abc"
    assert signer.verify(token, conversation_id="abc") == "abc"


def test_a_token_for_another_conversation_is_rejected():
    signer = TokenSigner(SECRET)
    with pytest.raises(BadToken, match="another conversation"):
        signer.verify(signer.issue("abc"), conversation_id="xyz")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_malformed_tokens_are_rejected(token):
    with pytest.raises(BadToken):
        TokenSigner(SECRET).verify(token)


def test_a_token_signed_with_another_key_is_rejected():
    forged = TokenSigner("k" * 32).issue("abc")
    with pytest.raises(BadToken):
        TokenSigner(SECRET).verify(forged)


def test_a_tampered_token_is_rejected():
    token = TokenSigner(SECRET).issue("abc")
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(BadToken):
        TokenSigner(SECRET).verify(tampered)


def test_a_signed_payload_of_another_shape_is_rejected():
    # Correctly signed with our key and salt, but not a conversation token.
    odd = URLSafeTimedSerializer(SECRET, salt="allhours.widget").dumps(["abc"])
    with pytest.raises(BadToken):
        TokenSigner(SECRET).verify(odd)


def test_an_expired_token_is_rejected():
    signer = TokenSigner(SECRET, max_age_s=-1)
    with pytest.raises(BadToken, match="expired"):
        signer.verify(signer.issue("abc"))


def test_a_signer_needs_a_key():
    with pytest.raises(ValueError):
        TokenSigner("")
