import json

import pytest

from handoff.intents import is_handoff_request, is_repeat
from handoff.policy import Action, PolicyConfig, Reason, TopicRule, TurnFacts, decide
from handoff.sentiment import assess_frustration

CONFIG = PolicyConfig()

ASKS_FOR_HUMAN = [
    "I want to talk to a human",
    "Can I speak with a real person please?",
    "connect me to an agent",
    "Transfer me to a representative.",
    "agent",
    "Human please!!",
    "get me a human now",
    "I need to speak to someone",
    "is there a real person I can talk to?",
    "let me talk to your supervisor",
    "operator",
    "I'd prefer a live agent",
    "转人工",
    "人工",
    "我要找客服",
    "我想和真人说话",
    "请帮我转接人工客服",
    "can a human help me",
    "I'd like to talk to support",
    "need human help",
    "能不能让真人来回答",
]

NOT_ASKING = [
    "is this a human-readable format?",
    "does the agent app support iOS",
    "was it a human error?",
    "How do I add a person to my team plan?",
    "Can my agent see my invoices?",
    "how do I get the agent app on Android",
    "are you a real person?",
    "I need the manager's approval for a purchase, how does that work?",
    "What does a representative sample mean in your report?",
    "Where is the operator manual for the X100?",
    "人工智能功能怎么开启？",
    "客服电话是多少",
    "你是真人吗",
    "how do I connect my printer to the network",
    "the agent said I'd get a refund",
    "my real estate agent needs the invoice",
    "how do I talk to Alexa on my TV",
    "transfer photos to my phone",
    "can the agent app help with billing",
    "人工费怎么算",
    "客服什么时候上班",
]


@pytest.mark.parametrize("text", ASKS_FOR_HUMAN)
def test_requests_in_words_are_recognised(text):
    assert is_handoff_request(text)
    decision = decide(TurnFacts(text=text, confidence=0.9), CONFIG)
    assert (decision.action, decision.reason, decision.detail) == (
        Action.handoff,
        Reason.requested,
        "words",
    )


@pytest.mark.parametrize("text", NOT_ASKING)
def test_mentions_of_people_are_not_requests(text):
    assert not is_handoff_request(text)
    assert decide(TurnFacts(text=text, confidence=0.9), CONFIG).action is Action.answer


def test_button_request_wins_over_everything():
    facts = TurnFacts(text="I will sue you", confidence=0.1, requested=True)
    assert decide(facts, CONFIG).reason is Reason.requested
    assert decide(facts, CONFIG).detail == "button"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("My lawyer will hear about this", "legal_threat"),
        ("I think my account was hacked", "account_compromise"),
        ("someone else logged into my account last night", "account_compromise"),
        ("I'll file a chargeback with my bank", "refund_dispute"),
        ("you charged me twice for May", "refund_dispute"),
        ("Please cancel my subscription", "cancellation"),
        ("我的账号被盗了", "account_compromise"),
        ("我要起诉你们", "legal_threat"),
    ],
)
def test_sensitive_topics_escalate_at_once(text, rule):
    decision = decide(TurnFacts(text=text, confidence=0.95), CONFIG)
    assert decision.action is Action.handoff
    assert decision.reason is Reason.sensitive_topic
    assert decision.detail.startswith(rule)


@pytest.mark.parametrize(
    "text",
    [
        "what does the solicitor general of texas do",
        "how many people have held the role of county attorney",
        "How do I cancel a recording?",
        "my account settings page is blank",
        "what is a refund policy",
    ],
)
def test_mentions_of_sensitive_words_are_not_topics(text):
    assert decide(TurnFacts(text=text, confidence=0.9), CONFIG).action is Action.answer


def test_highest_priority_topic_wins():
    decision = decide(TurnFacts("cancel my account or my lawyer calls", 0.9), CONFIG)
    assert decision.detail.startswith("legal_threat")
    assert decision.priority == 100


@pytest.mark.parametrize(
    "text",
    [
        "This is the worst support ever. I hate this",
        "you are useless",
        "WHY DOES NOTHING WORK!!!",
        "what a stupid bot",
        "垃圾系统，气死我了",
    ],
)
def test_frustration_hands_off(text):
    decision = decide(TurnFacts(text=text, confidence=0.9), CONFIG)
    assert (decision.action, decision.reason) == (Action.handoff, Reason.frustration)


@pytest.mark.parametrize(
    "text",
    [
        "I lost my password and cannot log in",
        "my card was declined",
        "THANK YOU SO MUCH!!!",
        "滚动条不见了",
        # negative words about the topic, not the service
        "where is the dead sea located in the world",
        "what kind of poison killed romeo and juliet",
    ],
)
def test_ordinary_problems_are_not_frustration(text):
    assert assess_frustration(text).score < CONFIG.frustration_threshold


def test_frustration_signals_are_named():
    mood = assess_frustration("THIS IS RIDICULOUS!!!")
    assert {"caps", "punctuation", "abuse"} <= set(mood.signals)


def test_first_low_confidence_turn_asks_to_rephrase():
    decision = decide(TurnFacts("how do I flibber the gizmo", 0.2), CONFIG)
    assert (decision.action, decision.reason) == (Action.clarify, Reason.low_confidence)


def test_low_confidence_hands_off_without_clarify_first():
    config = PolicyConfig(clarify_first=False)
    decision = decide(TurnFacts("how do I flibber the gizmo", 0.2), config)
    assert (decision.action, decision.reason) == (Action.handoff, Reason.low_confidence)


def test_low_confidence_after_an_earlier_clarify_hands_off():
    decision = decide(TurnFacts("what about the warranty", 0.3, clarified=True), CONFIG)
    assert (decision.action, decision.reason) == (Action.handoff, Reason.low_confidence)


def test_no_answer_is_its_own_reason():
    facts = TurnFacts("what colour is the CEO's car", 0.9, no_answer=True, clarified=True)
    assert decide(facts, CONFIG).reason is Reason.no_answer


def test_second_low_turn_in_a_row_is_repeated_failure():
    facts = TurnFacts("the gizmo, the blue one", 0.2, low_confidence_streak=1, clarified=True)
    decision = decide(facts, CONFIG)
    assert (decision.action, decision.reason) == (Action.handoff, Reason.repeated_failure)


def test_repeated_question_is_repeated_failure():
    earlier = ("How do I reset my password?", "thanks")
    facts = TurnFacts("how do I reset my password", 0.9, previous_customer_texts=earlier)
    assert decide(facts, CONFIG).reason is Reason.repeated_failure


def test_short_replies_do_not_count_as_repeats():
    assert not is_repeat("ok", ("ok", "thanks"), similarity=0.85)
    assert not is_repeat("What are your opening hours?", ("How do I pay?",), similarity=0.85)


def test_small_talk_is_answered():
    facts = TurnFacts("hello there", None, low_confidence_streak=3)
    assert decide(facts, CONFIG) == decide(TurnFacts("hi", None), CONFIG)
    assert decide(facts, CONFIG).action is Action.answer


def test_confident_answer():
    assert decide(TurnFacts("How do I pay?", 0.8), CONFIG).action is Action.answer


def test_threshold_is_configuration():
    facts = TurnFacts("How do I pay?", 0.6)
    assert decide(facts, PolicyConfig(threshold=0.7)).action is Action.clarify
    assert decide(facts, PolicyConfig(threshold=0.5)).action is Action.answer


def test_config_from_json_file(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(
        json.dumps(
            {
                "threshold": 0.4,
                "clarify_first": False,
                "priorities": {"requested": 70},
                "extra_rules": [{"name": "gdpr", "patterns": ["\\bgdpr\\b"], "priority": 95}],
            }
        )
    )
    config = PolicyConfig.from_file(path)
    assert config.threshold == 0.4 and not config.clarify_first
    assert decide(TurnFacts("agent", 0.9), config).priority == 70
    decision = decide(TurnFacts("my GDPR request", 0.9), config)
    assert (decision.reason, decision.priority) == (Reason.sensitive_topic, 95)


def test_config_from_yaml_replaces_rules(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  - name: recall\n    patterns: recall\n    priority: 5\n")
    config = PolicyConfig.from_file(path)
    assert [rule.name for rule in config.rules] == ["recall"]
    assert decide(TurnFacts("cancel my subscription", 0.9), config).action is Action.answer


@pytest.mark.parametrize(
    "data",
    [{"treshold": 0.5}, {"threshold": 2}, {"priorities": {"bored": 1}}, {"repeated_low_turns": 0}],
)
def test_bad_config_is_rejected(data):
    with pytest.raises(ValueError):
        PolicyConfig.from_mapping(data)


def test_bad_rule_pattern_names_the_rule():
    with pytest.raises(ValueError, match="broken"):
        TopicRule("broken", ("(unclosed",), 1)
