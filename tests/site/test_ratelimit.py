"""site/ratelimit.py: both header families, both reset forms, the site's clock, garbage."""

from __future__ import annotations

import pytest

from lmarena_bridge.site.ratelimit import RateInfo, Window, parse_rate_headers, retry_seconds

NOW = 1_800_000_000.0
DATE = "Fri, 15 Jan 2027 08:00:00 GMT"  # 1_800_000_000 in Unix time


@pytest.mark.parametrize(
    ("headers", "windows"),
    [
        # The IETF draft pair: reset in seconds, window from the policy.
        ({"ratelimit": "limit=1800, remaining=1795, reset=275", "ratelimit-policy": "1800;w=300"},
         (Window(1800, 1795, NOW + 275, 300.0),)),
        # The per-window form without a remaining.
        ({"ratelimit": "limit=1800;w=300"}, (Window(1800, None, None, 300.0),)),
        # The trio: reset as a Unix time.
        ({"ratelimit-limit": "10", "ratelimit-remaining": "0", "ratelimit-reset": str(NOW + 40)},
         (Window(10, 0, NOW + 40),)),
        # The trio: reset as seconds.
        ({"ratelimit-limit": "30", "ratelimit-remaining": "29", "ratelimit-reset": "12"},
         (Window(30, 29, NOW + 12),)),
        # Both families at once.
        ({"ratelimit": "limit=1800, remaining=5, reset=10", "ratelimit-limit": "30",
          "ratelimit-remaining": "0", "ratelimit-reset": "60"},
         (Window(1800, 5, NOW + 10), Window(30, 0, NOW + 60))),
        # Only a policy.
        ({"ratelimit-policy": "100;w=60"}, (Window(100, None, None, 60.0),)),
        # Garbage: ignored field by field, never raised.
        ({"ratelimit": "limit=abc, remaining=-3, reset=NaN"}, (Window(None, None, None),)),
        ({"ratelimit-limit": "", "ratelimit-remaining": "many", "ratelimit-reset": "soon"}, ()),
        ({"ratelimit": ";;,,=", "ratelimit-policy": "w=oops"}, ()),
        ({}, ()),
    ],
)
def test_windows(headers: dict[str, str], windows: tuple[Window, ...]) -> None:
    assert parse_rate_headers(headers, NOW).windows == windows


def test_unix_reset_is_on_the_sites_clock() -> None:
    # The site's clock is two hours ahead: its Unix reset is two hours ahead too.
    site_now = NOW + 7200
    headers = {"date": "Fri, 15 Jan 2027 10:00:00 GMT", "ratelimit-remaining": "0",
               "ratelimit-reset": str(site_now + 30)}
    info = parse_rate_headers(headers, NOW)
    assert info.site_time == site_now
    assert info.windows[0].reset_at == NOW + 30
    assert info.spent_until == NOW + 30


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("12", 12.0), ("0.5", 0.5), ("Fri, 15 Jan 2027 08:01:00 GMT", 60.0), ("soon", None),
     ("", None), (None, None), ("-4", None), ("inf", None)],
)
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert retry_seconds(value, NOW) == seconds


def test_modality_date_and_binding_window() -> None:
    info = parse_rate_headers(
        {"Date": DATE, "RateLimit-Modality": "Image", "retry-after": "20",
         "ratelimit": "limit=1800, remaining=5, reset=10", "ratelimit-limit": "30",
         "ratelimit-remaining": "2", "ratelimit-reset": "60"}, NOW)
    assert (info.modality, info.retry_after, info.site_time) == ("image", 20.0, NOW)
    assert info.binding == Window(30, 2, NOW + 60)
    assert info.spent_until is None


@pytest.mark.parametrize("date", ["yesterday", "Fri, 99 Foo 2027", "1800000000", ""])
def test_garbage_date(date: str) -> None:
    assert parse_rate_headers({"date": date}, NOW) == RateInfo()
