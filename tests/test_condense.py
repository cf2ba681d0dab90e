import pytest

from bot.answering.condense import (
    condense_question,
    is_follow_up,
    last_customer_text,
    salient_terms,
)

HISTORY = [
    ("customer", "How do I reset my password?"),
    ("bot", "Open the sign-in page and choose Forgot password. [1]"),
]


@pytest.mark.parametrize(
    "question",
    ["How long does it take?", "and by phone?", "What about the mobile app", "refunds?"],
)
def test_a_follow_up_gets_the_previous_topic(question):
    assert is_follow_up(question)
    condensed = condense_question(question, HISTORY)
    assert condensed == f"reset password {question}"


@pytest.mark.parametrize(
    "question", ["Can I pay by PayPal?", "How do I change my shipping address?"]
)
def test_a_standalone_question_is_left_alone(question):
    assert not is_follow_up(question)
    assert condense_question(question, HISTORY) == question


def test_without_history_the_question_is_only_normalised():
    assert condense_question("  how long does   it take? ", []) == "how long does it take?"


def test_terms_already_in_the_question_are_not_repeated():
    history = [("customer", "Can I change my delivery address after ordering?")]
    assert condense_question("what if the address is wrong?", history) == (
        "change delivery ordering what if the address is wrong?"
    )
    assert salient_terms("the passwords and the password", exclude=()) == ["passwords"]


def test_the_current_question_in_the_history_is_skipped():
    history = [*HISTORY, ("customer", "and by phone?")]
    assert last_customer_text(history, "and by phone?") == "How do I reset my password?"
    assert last_customer_text([("bot", "Hello!")], "hi") == ""


def test_chinese_follow_up_takes_the_whole_previous_question():
    history = [("customer", "如何重置密码？")]
    assert is_follow_up("那如果忘记邮箱呢？")
    assert condense_question("那如果忘记邮箱呢？", history) == "如何重置密码？ 那如果忘记邮箱呢？"
