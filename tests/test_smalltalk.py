import pytest

from bot.answering.smalltalk import SmallTalk, classify_smalltalk, reply_to_smalltalk


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Hi", SmallTalk.greeting),
        ("hello there!", SmallTalk.greeting),
        ("Good morning team", SmallTalk.greeting),
        ("what's up?", SmallTalk.greeting),
        ("Thank you!", SmallTalk.thanks),
        ("thanks so much for your help", SmallTalk.thanks),
        ("thx!!", SmallTalk.thanks),
        ("bye", SmallTalk.goodbye),
        ("ok thank you, bye!", SmallTalk.goodbye),
        ("你好", SmallTalk.greeting),
        ("谢谢！", SmallTalk.thanks),
        ("谢谢你", SmallTalk.thanks),
        ("再见", SmallTalk.goodbye),
    ],
)
def test_whole_message_small_talk_is_recognised(text, kind):
    assert classify_smalltalk(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "Hi, how do I reset my password?",
        "thanks, but how do I cancel my order?",
        "hill",
        "history of my orders",
        "你好，我的订单在哪里？",
        "我想退款",
        "",
    ],
)
def test_a_message_with_a_question_is_not_small_talk(text):
    assert classify_smalltalk(text) is None
    assert reply_to_smalltalk(text) is None


def test_the_reply_follows_the_customer_language():
    english = reply_to_smalltalk("hello")
    chinese = reply_to_smalltalk("您好")
    assert english is not None and english.isascii()
    assert chinese is not None and "您好" in chinese
    assert reply_to_smalltalk("thanks") != reply_to_smalltalk("bye")
