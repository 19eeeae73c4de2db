"""relay/accounts.py: budgets, cooldowns and pacing arithmetic."""

from __future__ import annotations

import pytest

from lmarena_bridge.relay.accounts import (
    DAY,
    DEFAULT_COOLDOWN_SECONDS,
    MAX_COOLDOWN_SECONDS,
    Account,
    Accounts,
    Cooldown,
    Pacing,
    SiteClock,
    next_event,
    rate_limit_error,
)
from lmarena_bridge.site.ratelimit import RateInfo, Window

NOW = 1_800_000_000.0


def info(remaining: int | None, reset_in: float | None = 30, limit: int = 10, **kw) -> RateInfo:
    reset = None if reset_in is None else NOW + reset_in
    return RateInfo((Window(limit, remaining, reset),), **kw)


def test_budget_kept_per_modality() -> None:
    acc = Account("a")
    assert acc.observe("text", info(7), NOW) is None
    assert acc.observe("image", info(2, limit=3), NOW) is None
    assert {m: (b.remaining, b.limit) for m, b in acc.budgets.items()} == {
        "text": (7, 10), "image": (2, 3)}
    assert acc.blocked_until("text", NOW) == NOW


def test_spent_budget_cools_that_modality_only() -> None:
    acc = Account("a")
    cooldown = acc.observe("text", info(0, reset_in=40), NOW)
    assert cooldown == Cooldown(NOW + 40, "quota", "text")
    assert acc.blocked_until("text", NOW) == NOW + 40
    assert acc.blocked_until("image", NOW) == NOW
    assert acc.blocked_until(None, NOW) == NOW  # uploads, models: not held by a quota
    assert acc.blocked_until("text", NOW + 41) == NOW + 41  # over by itself
    assert acc.cooldowns == {}


def test_header_modality_wins_over_the_jobs() -> None:
    acc = Account("a")
    acc.observe("text", info(0, modality="image"), NOW)
    assert acc.blocked_until("image", NOW) == NOW + 30
    assert acc.blocked_until("text", NOW) == NOW


@pytest.mark.parametrize(
    ("status", "rate", "expected"),
    [
        (429, RateInfo(retry_after=20), Cooldown(NOW + 20, "rate_limit")),
        (429, RateInfo(), Cooldown(NOW + DEFAULT_COOLDOWN_SECONDS, "rate_limit")),
        (429, RateInfo(retry_after=20, modality="image"), Cooldown(NOW + 20, "quota", "image")),
        (403, RateInfo(retry_after=1200), Cooldown(NOW + 1200, "flagged")),
        (503, RateInfo(retry_after=5), Cooldown(NOW + 5, "rate_limit")),
        (429, info(0, reset_in=50), Cooldown(NOW + 50, "quota", "text")),
        (403, RateInfo(), None),  # a reCAPTCHA refusal: nothing about limits
        (400, info(4), None),
        (429, RateInfo(retry_after=10**9), Cooldown(NOW + MAX_COOLDOWN_SECONDS, "rate_limit")),
    ],
)
def test_refusals(status: int, rate: RateInfo, expected: Cooldown | None) -> None:
    assert Account("a").refused("text", status, rate, NOW) == expected


def test_a_shorter_cooldown_does_not_shorten_a_longer_one() -> None:
    acc = Account("a")
    acc.refused("text", 403, RateInfo(retry_after=100), NOW)
    assert acc.refused("text", 429, RateInfo(retry_after=10), NOW) is None
    assert acc.blocked_until("text", NOW) == NOW + 100
    assert acc.cooldown(NOW) == Cooldown(NOW + 100, "flagged")


def test_account_wide_cooldown_is_the_one_shown() -> None:
    acc = Account("a")
    acc.observe("image", info(0, reset_in=500), NOW)
    acc.refused("text", 429, RateInfo(retry_after=10), NOW)
    assert acc.cooldown(NOW) == Cooldown(NOW + 10, "rate_limit")
    assert acc.cooldown(NOW + 11) == Cooldown(NOW + 500, "quota", "image")


@pytest.mark.parametrize(
    ("pacing", "sent", "expected"),
    [
        (Pacing(), [NOW - 1], NOW),
        (Pacing(min_interval=45), [NOW - 10], NOW + 35),
        (Pacing(min_interval=45), [NOW - 50], NOW),
        (Pacing(per_minute=2), [NOW - 50, NOW - 20], NOW + 10),
        (Pacing(per_minute=2), [NOW - 70, NOW - 20], NOW),
        (Pacing(per_day=3), [NOW - 80000, NOW - 100, NOW - 50], NOW - 80000 + DAY),
        (Pacing(per_day=3), [NOW - DAY - 1, NOW - 100, NOW - 50], NOW),
        (Pacing(min_interval=45, per_minute=1), [NOW - 30], NOW + 30),
    ],
)
def test_pacing(pacing: Pacing, sent: list[float], expected: float) -> None:
    acc = Account("a")
    for t in sent:
        acc.record_send(t)
    assert acc.next_send_at(pacing, NOW) == pytest.approx(expected)
    assert acc.ready_at("text", pacing, NOW) == pytest.approx(expected)
    assert acc.ready_at(None, pacing, NOW) == NOW  # no site request: not paced


def test_requests_counted_for_the_monitor() -> None:
    acc = Account("a")
    for t in (NOW - 2 * DAY, NOW - 3600, NOW - 30, NOW - 5):
        acc.record_send(t)
    view = acc.view(NOW, ["w1"])
    assert (view["requests_last_minute"], view["requests_last_day"]) == (2, 3)


def test_keys_and_sharing() -> None:
    accounts = Accounts()
    assert Accounts.key_for("acct-x", "tab1", "w1") == "acct-x"
    assert Accounts.key_for("", "tab1", "w1") == "tab:tab1"
    assert Accounts.key_for("", "", "w1") == "worker:w1"
    assert accounts.get("acct-x", NOW) is accounts.get("acct-x", NOW)


def test_next_event_and_429() -> None:
    a, b = Account("acct-a"), Account("acct-b")
    a.refused("text", 429, RateInfo(retry_after=20.2), NOW)
    b.observe("text", info(0, reset_in=50), NOW)
    assert next_event([a, b], False, Pacing(), NOW) == pytest.approx(NOW + 20.2)
    err = rate_limit_error([a, b], "text", Pacing(), NOW, NOW + 20.2)
    assert (err.status, err.code, err.retry_after) == (429, "rate_limit_exceeded", 21)
    assert "acct-a" in err.message and "acct-b" in err.message and "in 50 s" in err.message


def test_site_clock() -> None:
    clock = SiteClock()
    assert clock.now(NOW) == NOW
    clock.observe(NOW + 7200.4, NOW)
    assert clock.offset == pytest.approx(7200.4)
    clock.observe(NOW + 7201, NOW)  # whole-second jitter of the Date header: kept
    assert clock.offset == pytest.approx(7200.4)
    clock.observe(NOW - 5, NOW)
    assert clock.offset == -5
