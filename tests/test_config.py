"""Settings (bot/config.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import Settings

SECRET = "Zq9-weak-KEY-7x"


@pytest.mark.parametrize(
    "values",
    [
        {"mode": "production", "secret_key": SECRET},
        {"mode": "production", "secret_key": SECRET * 3, "allowed_origins": "*"},
    ],
    ids=["weak-key", "wildcard-origins"],
)
def test_a_settings_error_never_quotes_the_values_it_was_given(values):
    # Whoever builds Settings (the CLI, an ASGI factory, alembic's env.py) may print the error.
    with pytest.raises(ValidationError) as refused:
        Settings(**values)
    message = str(refused.value)
    assert "ALLHOURS_" in message
    assert not any(SECRET[i : i + 6] in message for i in range(len(SECRET) - 5))
