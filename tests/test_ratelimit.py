import pytest

from bot.chat.ratelimit import RateLimited, RateLimiter, SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_refuses_the_hit_over_the_limit_and_says_when_to_retry():
    clock = Clock()
    window = SlidingWindow(3, 60, clock=clock)
    for _ in range(3):
        assert window.wait_s("ip") == 0
        window.record("ip")
        clock.now += 10
    # Hits at 1000, 1010, 1020; now 1030: the first leaves the window at 1060.
    assert window.wait_s("ip") == pytest.approx(30)


def test_the_window_slides():
    clock = Clock()
    window = SlidingWindow(2, 60, clock=clock)
    window.record("ip")
    clock.now += 30
    window.record("ip")
    assert window.wait_s("ip") > 0
    clock.now += 30.5  # the first hit has left the window, the second has not
    assert window.wait_s("ip") == 0
    window.record("ip")
    assert window.wait_s("ip") > 0


def test_keys_are_independent():
    window = SlidingWindow(1, 60, clock=Clock())
    window.record("a")
    assert window.wait_s("a") > 0
    assert window.wait_s("b") == 0


def test_idle_keys_are_forgotten():
    clock = Clock()
    window = SlidingWindow(5, 60, clock=clock)
    for n in range(100):
        window.record(f"ip{n}")
    clock.now += 61
    window.record("late")
    assert set(window._hits) == {"late"}


def test_the_limiter_names_the_limit_and_the_wait():
    clock = Clock()
    limiter = RateLimiter(per_ip=100, per_conversation=2, clock=clock)
    limiter.check(ip="1.2.3.4", conversation_id="c")
    limiter.check(ip="1.2.3.4", conversation_id="c")
    with pytest.raises(RateLimited) as caught:
        limiter.check(ip="1.2.3.4", conversation_id="c")
    assert caught.value.scope == "conversation"
    assert caught.value.retry_after_s == 60
    assert "try again in 60 s" in str(caught.value)
    limiter.check(ip="1.2.3.4", conversation_id="other")  # another conversation is fine


def test_the_ip_limit_covers_all_conversations_of_an_address():
    limiter = RateLimiter(per_ip=2, per_conversation=100, clock=Clock())
    limiter.check(ip="1.2.3.4", conversation_id="a")
    limiter.check(ip="1.2.3.4", conversation_id="b")
    with pytest.raises(RateLimited) as caught:
        limiter.check(ip="1.2.3.4", conversation_id="c")
    assert caught.value.scope == "address"
    limiter.check(ip="5.6.7.8", conversation_id="c")


def test_a_refused_hit_is_not_counted():
    clock = Clock()
    limiter = RateLimiter(per_ip=3, per_conversation=1, clock=clock)
    limiter.check(ip="ip", conversation_id="a")
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.check(ip="ip", conversation_id="a")
    # Only one hit counted against the address, so two more conversations may still write.
    limiter.check(ip="ip", conversation_id="b")
    limiter.check(ip="ip", conversation_id="c")
