"""The tools' terminal helpers: prompts and the countdown."""

from __future__ import annotations

import io

import pytest

from lmarena_bridge.tools.client import ToolError, bridge_url
from lmarena_bridge.tools.console import Console, Countdown


def console(stdin: str = "", *, live: bool = False) -> Console:
    return Console(stdin=io.StringIO(stdin), out=io.StringIO(), err=io.StringIO(),
                   interactive=True, live=live)


def test_ask_repeats_until_a_valid_answer_and_enter_takes_the_default() -> None:
    c = console("x\nB\n\n")
    assert c.ask("Side? ", {"a": "A", "b": "B"}) == "B"
    assert "Please answer one of: a, b." in c.err.getvalue()  # type: ignore[attr-defined]
    assert c.ask("Side? ", {"a": "A", "b": "B"}, default="A") == "A"
    with pytest.raises(ToolError):
        c.ask("Side? ", {"a": "A"})  # end of input and no default


def test_confirm_defaults_to_no() -> None:
    assert console("yes\n").confirm("Go?") is True
    assert console("\n").confirm("Go?") is False
    assert console("").confirm("Go?") is False


def test_countdown_is_one_updating_line_on_a_terminal() -> None:
    c = console(live=True)
    cd = Countdown(c, "Waiting")
    cd.tick(3.0)
    cd.tick(1.2)
    cd.close()
    assert c.err.getvalue() == "\rWaiting:    3 s left \rWaiting:    2 s left \n"  # type: ignore[attr-defined]


def test_countdown_prints_periodic_lines_otherwise() -> None:
    c = console()
    cd = Countdown(c, "Waiting", every=3600)
    cd.tick(10)
    cd.tick(9)  # too soon for another line
    cd.close()
    assert c.err.getvalue() == "Waiting: 10 s left\n"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("host", "url"), [("127.0.0.1", "http://127.0.0.1:5102"),
                                          ("0.0.0.0", "http://127.0.0.1:5102"),
                                          ("::", "http://[::1]:5102"),
                                          ("localhost", "http://localhost:5102")])
def test_bridge_url_from_the_listen_address(host: str, url: str) -> None:
    assert bridge_url(host, 5102) == url
