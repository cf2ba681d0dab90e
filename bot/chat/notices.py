"""What the bot itself says to the customer about the conversation (not answers), EN and ZH."""

from __future__ import annotations

_NOTICES: dict[str, dict[str, str]] = {
    "en": {
        "clarify": (
            "I'm not sure I understood. Could you rephrase your question, with a little more "
            "detail?"
        ),
        # Said instead of "clarify" when an article looks related: the question may well have
        # been clear, so the bot says it is unsure of its answer, not of the question.
        "suggest": (
            "I'm not sure enough to answer that myself, but this article looks closest: [1] "
            "If it doesn't cover your question, could you rephrase it with a little more detail?"
        ),
        "queued": "I'm connecting you with a person. You are number {position} in the queue.",
        "eta": " The expected wait is about {minutes} min.",
        "offline": (
            "No one from our team is available right now. Your conversation stays in our queue: "
            "leave your email address and we will answer you there."
        ),
        "back": "You're talking with the bot again. How can I help?",
        "failed": "Sorry, I could not answer just now.",
        "contact": "Thanks, we will write to {email}.",
    },
    "zh": {
        "clarify": "我不太确定是否理解了您的问题。能否换个说法，并提供更多细节？",
        "suggest": (
            "我没有足够把握直接回答，但这篇文章最相关：[1] "
            "如果它没有解答您的问题，能否换个说法并提供更多细节？"
        ),
        "queued": "正在为您转接人工客服。您目前排在第 {position} 位。",
        "eta": "预计等待约 {minutes} 分钟。",
        "offline": (
            "目前没有客服在线。您的会话会保留在队列中：请留下您的电子邮箱，我们会通过邮件回复您。"
        ),
        "back": "您现在又在和机器人对话了。有什么可以帮您？",
        "failed": "抱歉，暂时无法回答。",
        "contact": "谢谢，我们会发邮件到 {email}。",
    },
}


def notice(lang: str, key: str, **values: object) -> str:
    texts = _NOTICES.get(lang, _NOTICES["en"])
    return texts[key].format(**values)


def queue_notice(lang: str, *, position: int | None, eta_s: int | None, offline: bool) -> str:
    if offline:
        return notice(lang, "offline")
    text = notice(lang, "queued", position=position or 1)
    if eta_s:
        text += notice(lang, "eta", minutes=max(1, round(eta_s / 60)))
    return text
