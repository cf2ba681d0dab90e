"""Greetings, thanks and goodbyes, answered without retrieval (English and Chinese).

A message is small talk only when it is *nothing but* small talk: "hi, how do I reset my
password?" carries a question and goes to retrieval.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.answering.terms import has_cjk


class SmallTalk(StrEnum):
    greeting = "greeting"
    thanks = "thanks"
    goodbye = "goodbye"


_FILLER = (
    r"(?:for (?:the|your|all the|all your) help|there|again|all|everyone|team|folks|bot"
    r"|so much|a lot|very much|a bunch|lots|man|mate)"
)
_ENGLISH = {
    SmallTalk.greeting: r"hi+|hello+|hey+|hiya|howdy|yo|greetings"
    r"|good (?:morning|afternoon|evening|day)"
    r"|how are you(?: doing)?(?: today)?|how's it going|what's up",
    SmallTalk.thanks: r"thank you|thanks?|thx|ty|cheers|many thanks|much appreciated|appreciate it"
    r"|great|perfect|awesome|cool|ok(?:ay)?|got it|that helps|that helped|that worked"
    r"|(?:very )?helpful",
    SmallTalk.goodbye: r"bye bye|bye+|goodbye|good bye|see you(?: later| soon)?|see ya|good night"
    r"|take care|have a (?:nice|good|great) day|that's all|that is all|nothing else",
}
_CHINESE = {
    SmallTalk.greeting: r"你好|您好|嗨|哈喽|早上好|下午好|晚上好|在吗|在不在",
    SmallTalk.thanks: r"谢谢你|谢谢您|谢谢|多谢|感谢|谢了|非常感谢|好的|明白了|知道了",
    SmallTalk.goodbye: r"再见|拜拜|回头见|晚安|没有了|没事了",
}
# Alternatives are tried in order, so a longer phrase comes before its prefix.
_PHRASE = {
    kind: re.compile(rf"(?:(?:{_ENGLISH[kind]})(?: {_FILLER})*|{_CHINESE[kind]})")
    for kind in SmallTalk
}
_ANY = re.compile("|".join(f"(?P<{kind}>{_PHRASE[kind].pattern})" for kind in SmallTalk))
_SEPARATORS = re.compile(r"[\s,.!?;:~\"()，。！？；：、…\-]+")

_REPLIES = {
    (SmallTalk.greeting, "en"): "Hello! How can I help you today?",
    (SmallTalk.thanks, "en"): "You're welcome! Is there anything else I can help you with?",
    (SmallTalk.goodbye, "en"): "Goodbye, and thanks for contacting us!",
    (SmallTalk.greeting, "zh"): "您好！请问有什么可以帮您？",
    (SmallTalk.thanks, "zh"): "不客气！还有什么可以帮您的吗？",
    (SmallTalk.goodbye, "zh"): "再见，感谢您的咨询！",
}


def classify_smalltalk(text: str) -> SmallTalk | None:
    """The kind of small talk when the whole message is small talk, else None.

    A mixed message ("thanks, bye") takes the kind of its last phrase, which is what it
    ends the exchange with.
    """
    normalized = " ".join(_SEPARATORS.sub(" ", text.lower().replace("’", "'")).split())
    if not normalized or len(normalized) > 80:
        return None
    kind: SmallTalk | None = None
    position = 0
    while position < len(normalized):
        if normalized[position] == " ":
            position += 1
            continue
        match = _ANY.match(normalized, position)
        end = match.end() if match else -1
        # A phrase must end at a word boundary ("hill" is not "hi"); CJK needs no spaces.
        if not match or (
            end < len(normalized)
            and normalized[end] != " "
            and not has_cjk(normalized[end - 1 : end + 1])
        ):
            return None
        kind = SmallTalk(match.lastgroup)
        position = end
    return kind


def reply_to_smalltalk(text: str) -> str | None:
    """A canned reply in the customer's language, or None when the text is not small talk."""
    kind = classify_smalltalk(text)
    if kind is None:
        return None
    return _REPLIES[(kind, "zh" if has_cjk(text) else "en")]
