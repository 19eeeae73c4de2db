"""SiteStreamParser: every line code, any chunking, battle sides, drift counters."""

from __future__ import annotations

import json

import pytest

from lmarena_bridge.site.events import (
    Citation,
    Event,
    Finish,
    ImageOutput,
    ReasoningDelta,
    StreamError,
    TextDelta,
)
from lmarena_bridge.site.stream import SiteStreamParser


def parse(body: str, side: str = "a") -> tuple[list[Event], SiteStreamParser]:
    parser = SiteStreamParser(side)
    events = parser.feed(body)
    events += parser.close()
    return events, parser


def parse_pieces(pieces: list[str], side: str = "a") -> list[Event]:
    parser = SiteStreamParser(side)
    events: list[Event] = []
    for piece in pieces:
        events += parser.feed(piece)
    return events + parser.close()


def merged_text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


CITE_ARGS = json.dumps({"source": {"id": "1", "url": "https://ex.com", "title": "Ex"}})
CITE_LIST_ARGS = json.dumps({"source": [{"id": "1"}, {"id": "2"}]})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('a0:"Hello"', [TextDelta("Hello")]),
        (
            'a0:"line\\nbreak \\"quoted\\" back\\\\slash"',
            [TextDelta('line\nbreak "quoted" back\\slash')],
        ),
        ('a0:"你好世界🌍"', [TextDelta("你好世界🌍")]),
        ('a0:"\\u4f60\\ud83c\\udf0d"', [TextDelta("你🌍")]),
        ('a0:""', []),
        ('ag:"thinking"', [ReasoningDelta("thinking")]),
        ('ag:""', []),
        (
            'a2:[{"type":"image","image":"https://cdn/x.png","mimeType":"image/png"}]',
            [ImageOutput("https://cdn/x.png", "image/png")],
        ),
        (
            'a2:[{"type":"image","image":"https://cdn/1.png"},'
            '{"type":"image","image":"https://cdn/2.webp","mimeType":"image/webp"}]',
            [ImageOutput("https://cdn/1.png"), ImageOutput("https://cdn/2.webp", "image/webp")],
        ),
        (
            'a2:[{"type":"image","data":"QUJD","mimeType":"image/jpeg"}]',
            [ImageOutput("data:image/jpeg;base64,QUJD", "image/jpeg")],
        ),
        ('a2:[{"type":"video","url":"https://cdn/v.mp4"}]', []),
        ('a2:[{"type":"webdev","event":{"type":"init","files":[]}}]', []),
        (
            'ak:{"data":"iVBOR","mimeType":"image/png"}',
            [ImageOutput("data:image/png;base64,iVBOR", "image/png")],
        ),
        ('ak:{"data":"JVBER","mimeType":"application/pdf"}', []),
        (
            "ac:" + json.dumps({"toolCallId": "citation-source", "argsTextDelta": CITE_ARGS}),
            [Citation({"id": "1", "url": "https://ex.com", "title": "Ex"})],
        ),
        (
            "ac:" + json.dumps({"toolCallId": "citation-source", "argsTextDelta": CITE_LIST_ARGS}),
            [Citation([{"id": "1"}, {"id": "2"}])],
        ),
        ("ac:" + json.dumps({"toolCallId": "other", "argsTextDelta": "{"}), []),
        (
            'a3:"Error during image generation: 400 Bad Request"',
            [StreamError("Error during image generation: 400 Bad Request")],
        ),
        ('a3:{"message":"boom"}', [StreamError('{"message":"boom"}')]),
        ('ad:{"finishReason":"stop"}', [Finish("stop")]),
        (
            'ad:{"finishReason":"stop","usage":{"promptTokens":12,"completionTokens":3}}',
            [Finish("stop", {"promptTokens": 12, "completionTokens": 3})],
        ),
        ('ad:{"finishReason":"content-filter"}', [Finish("content-filter")]),
        ('ad:{"finishReason":"error"}', [Finish("error")]),
        ("ad:{}", [Finish("unknown")]),
        ('ae:{"finishReason":"stop","usage":{},"isContinued":false}', []),
        ('af:{"messageId":"m1"}', []),
        ('a8:[{"x":1}]', []),
        ('a9:{"toolCallId":"t","toolName":"create_file","args":{}}', []),
        ('aa:{"toolCallId":"t","result":"ok"}', []),
        ('ab:{"toolCallId":"t","toolName":"x"}', []),
        ('ah:{"url":"https://ex.com"}', []),
        ('data: a0:"sse framed"', [TextDelta("sse framed")]),
        ('data:a0:"sse framed"', [TextDelta("sse framed")]),
        ('a0:"crlf"\r', [TextDelta("crlf")]),
        ("", []),
        ("   ", []),
        ("[DONE]", []),
        ("data: [DONE]", []),
    ],
)
def test_each_line_kind(line: str, expected: list[Event]) -> None:
    events, parser = parse(line + "\n")
    assert events == expected
    assert parser.malformed_lines == 0


def test_lone_surrogate_becomes_replacement_char() -> None:
    # JSON.stringify escapes a lone surrogate; orjson refuses it, the parser must not.
    events, parser = parse('a0:"x\\ud83d"\na0:"\\ude00y"\n')
    assert merged_text(events) == "x\ufffd\ufffdy"
    assert parser.malformed_lines == 0
    merged_text(events).encode("utf-8")  # must not raise


@pytest.mark.parametrize(
    ("body", "counts"),
    [
        (
            'a8:[]\na9:{}\naa:{}\nab:{}\nah:{}\naz:"?"\n',
            {"a8": 1, "a9": 1, "aa": 1, "ab": 1, "ah": 1, "az": 1},
        ),
        ("a9:{}\na9:{}\nae:{}\naf:{}\n", {"a9": 2}),
        ('x0:"odd side"\n', {"x0": 1}),
        ('b8:[]\nb9:{}\nb0:"other side"\n', {}),
    ],
)
def test_unknown_prefixes_counted(body: str, counts: dict[str, int]) -> None:
    events, parser = parse(body)
    assert events == []
    assert dict(parser.unknown_prefixes) == counts
    assert parser.malformed_lines == 0


@pytest.mark.parametrize(
    "line",
    [
        'a0:"unterminated',
        'a0:"bad " quote"',
        "a0:123",
        "a0:",
        'ag:["x"]',
        "ad:[1]",
        'ad:{"finishReason":',
        "a2:{}",
        "ak:[]",
        "ac:[]",
        'ac:{"toolCallId":"citation-source","argsTextDelta":"{not json"}',
        'ac:{"toolCallId":"citation-source","argsTextDelta":5}',
        "garbage without colon",
        "a0",
        '{"error":"not a stream line"}',
    ],
)
def test_malformed_lines_are_counted_and_skipped(line: str) -> None:
    events, parser = parse(f'a0:"before"\n{line}\na0:"after"\n')
    assert events == [TextDelta("before"), TextDelta("after")]
    assert parser.malformed_lines == 1


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html><title>Just a moment...</title>",
        "Enable JavaScript and cookies to continue",
        '{"error": "Too Many Requests"}',
        'a3:"fake error"\nad:{"finishReason":"error"}',
        "window._cf_chl_opt = 1",
    ],
)
def test_model_text_is_never_an_error_or_challenge(text: str) -> None:
    line = "a0:" + json.dumps(text, ensure_ascii=False)
    events, parser = parse(line + '\nad:{"finishReason":"stop"}\n')
    assert events == [TextDelta(text), Finish("stop")]
    assert parser.malformed_lines == 0


BATTLE = (
    'a0:"\\nI\'ll "\n'
    'b0:"<tool_code>\\n"\n'
    'ag:"a thinks"\n'
    'bg:"b thinks"\n'
    'a0:"create "\n'
    'b0:"print(task_progress=\\"starting "\n'
    'b2:[{"type":"image","image":"https://cdn/b.png"}]\n'
    'ad:{"finishReason":"unknown"}\n'
    'bd:{"finishReason":"stop","usage":{"promptTokens":5,"completionTokens":7}}\n'
)


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        (
            "a",
            [
                TextDelta("\nI'll "),
                ReasoningDelta("a thinks"),
                TextDelta("create "),
                Finish("unknown"),
            ],
        ),
        (
            "b",
            [
                TextDelta("<tool_code>\n"),
                ReasoningDelta("b thinks"),
                TextDelta('print(task_progress="starting '),
                ImageOutput("https://cdn/b.png"),
                Finish("stop", {"promptTokens": 5, "completionTokens": 7}),
            ],
        ),
    ],
)
def test_battle_keeps_one_side(side: str, expected: list[Event]) -> None:
    events, parser = parse(BATTLE, side)
    assert events == expected
    assert not parser.unknown_prefixes
    assert parser.malformed_lines == 0


def test_invalid_side_is_rejected() -> None:
    with pytest.raises(ValueError):
        SiteStreamParser("c")


# A stream with escapes, CJK, emoji (a surrogate pair in JSON and a raw astral char),
# the other battle side, an image, a citation and usage; split at every index below.
STREAM = (
    'ag:"think \\"hard\\""\n'
    'a0:"Hello \\\\ world\\n"\n'
    'b0:"ignored side"\n'
    'a0:"你好🌍 \\ud83d\\ude00"\n'
    "ac:" + json.dumps({"toolCallId": "citation-source", "argsTextDelta": CITE_ARGS}) + "\n"
    'a2:[{"type":"image","image":"https://cdn/x.png","mimeType":"image/png"}]\n'
    'a9:{"toolCallId":"t"}\n'
    'a0:"tail \\u00e9"\n'
    'ad:{"finishReason":"stop","usage":{"promptTokens":1,"completionTokens":2}}'
)
STREAM_EVENTS: list[Event] = [
    ReasoningDelta('think "hard"'),
    TextDelta("Hello \\ world\n"),
    TextDelta("你好🌍 😀"),
    Citation({"id": "1", "url": "https://ex.com", "title": "Ex"}),
    ImageOutput("https://cdn/x.png", "image/png"),
    TextDelta("tail é"),
    Finish("stop", {"promptTokens": 1, "completionTokens": 2}),
]


def test_whole_stream_in_one_feed() -> None:
    events, parser = parse(STREAM)
    assert events == STREAM_EVENTS
    assert parser.unknown_prefixes == {"a9": 1}
    assert parser.malformed_lines == 0
    assert parser.chars_received == len(STREAM)


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_split_at_every_index(cut: int) -> None:
    parser = SiteStreamParser("a")
    events = parser.feed(STREAM[:cut]) + parser.feed(STREAM[cut:]) + parser.close()
    assert events == STREAM_EVENTS
    assert parser.malformed_lines == 0
    assert parser.chars_received == len(STREAM)


def test_split_at_every_pair_of_indices() -> None:
    small = 'a0:"x\\"y"\nb0:"z"\nag:"🌍"\nad:{"finishReason":"stop"}\n'
    expected = [TextDelta('x"y'), ReasoningDelta("🌍"), Finish("stop")]
    for i in range(len(small) + 1):
        for j in range(i, len(small) + 1):
            assert parse_pieces([small[:i], small[i:j], small[j:]]) == expected, (i, j)


def test_one_char_at_a_time() -> None:
    assert parse_pieces(list(STREAM)) == STREAM_EVENTS


def test_many_lines_per_chunk_and_empty_feeds() -> None:
    lines = [f'a0:"w{i} "\n' for i in range(50)]
    pieces = ["", "".join(lines[:20]), "", "".join(lines[20:]), ""]
    events = parse_pieces(pieces)
    assert merged_text(events) == "".join(f"w{i} " for i in range(50))


def test_close_without_tail_and_reuse() -> None:
    parser = SiteStreamParser()
    assert parser.feed('a0:"one"\n') == [TextDelta("one")]
    assert parser.close() == []
    assert parser.feed('a0:"two"') == []
    assert parser.close() == [TextDelta("two")]


def test_long_stream_is_parsed_in_one_pass() -> None:
    # 20k lines fed in 7-char pieces plus one huge line split in many pieces: a parser
    # that re-scans its buffer would take minutes here; correctness is what we assert.
    body = "".join(f'a0:"w{i} \\n"\nb0:"x"\n' for i in range(20_000))
    body += 'a0:"' + "y" * 200_000 + '"\nad:{"finishReason":"stop"}\n'
    parser = SiteStreamParser()
    events: list[Event] = []
    for k in range(0, len(body), 7):
        events += parser.feed(body[k : k + 7])
    events += parser.close()
    assert len(events) == 20_002
    assert events[0] == TextDelta("w0 \n")
    assert events[19_999] == TextDelta("w19999 \n")
    assert events[-2] == TextDelta("y" * 200_000)
    assert events[-1] == Finish("stop")
    assert parser.chars_received == len(body)
