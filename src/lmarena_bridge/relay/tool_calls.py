"""The model's answer text -> plain text and tool calls (emulated function calling).

The site has no tool field, so the prompt (``site.tool_prompt``) asks the model to call a
tool by writing one block per call::

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

:class:`ToolCallParser` reads the answer as it streams. Text outside blocks goes out at
once (only a possible start of ``<tool_call>`` and trailing whitespace are held back until
the next piece tells what they are). A block is held until ``</tool_call>``, then parsed
leniently (code fences, trailing commas, single quotes, comments: JSON5) and checked
against the tool's JSON Schema. Whatever is not a valid call of a given tool -- not JSON,
an unknown name, arguments failing the schema, a block never closed -- goes out as the
text the model wrote and is counted in ``rejected``: the parser never invents a call.

``<tool_call>`` inside a fenced code block or an inline code span of the text is text.
Chunking never matters: any split of the same answer gives the same text and calls.
The parser never raises.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import json5
from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for

from lmarena_bridge.protocol.openai import ChatCompletionRequest, NamedToolChoice
from lmarena_bridge.site.tool_prompt import CLOSE, OPEN

log = logging.getLogger(__name__)

# Why a block was not turned into a call (the label of the rejection metric).
REJECT_REASONS = frozenset({"invalid_json", "unknown_tool", "schema", "unclosed"})

_SPECIAL = re.compile(r"[\n`~<]")
_FENCE_LINE = re.compile(r"^\s*(?:```|~~~)[^\n]*\n?")
_FENCE_END = re.compile(r"\n?\s*(?:```|~~~)\s*$")


def new_call_id() -> str:
    """An OpenAI-style tool call id: ``call_`` and 24 random characters."""
    return "call_" + uuid.uuid4().hex[:24]


@dataclass(frozen=True, slots=True)
class ParsedCall:
    """A valid call found in the answer: ``arguments`` is compact JSON text of an object."""

    name: str
    arguments: str
    raw: str  # the block as the model wrote it


@dataclass(frozen=True, slots=True)
class ToolCallOut:
    """A call as sent to the client (index and id given in answer order)."""

    index: int
    id: str
    name: str
    arguments: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


class ToolSet:
    """The tools one answer may call and their JSON Schemas.

    A schema is compiled the first time its tool is called (checking a schema costs about
    a millisecond, and agents send dozens of tools of which an answer calls one or two).
    A tool without ``parameters`` accepts any arguments object. A schema that is not a
    valid JSON Schema (some MCP servers publish sloppy ones) or that cannot be resolved
    (remote ``$ref``: nothing is fetched) checks only that the arguments are an object;
    this is logged.
    """

    __slots__ = ("_schemas", "_validators", "parallel")

    def __init__(
        self, schemas: Mapping[str, Mapping[str, Any] | None], *, parallel: bool = True
    ) -> None:
        self.parallel = parallel
        self._schemas = dict(schemas)
        self._validators: dict[str, Any] = {}

    @classmethod
    def from_request(cls, req: ChatCompletionRequest) -> ToolSet | None:
        """The callable tools of a request; None when it has none or ``tool_choice`` is
        ``"none"``. A named ``tool_choice`` narrows the set to that tool."""
        if not req.tools or req.tool_choice == "none":
            return None
        tools = req.tools
        choice = req.tool_choice
        if isinstance(choice, NamedToolChoice):
            tools = [t for t in tools if t.function.name == choice.function.name]
            if not tools:
                return None
        return cls(
            {t.function.name: t.function.parameters for t in tools},
            parallel=req.parallel_tool_calls is not False,
        )

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._schemas)

    def check(self, name: str, arguments: dict[str, Any]) -> str | None:
        """None if ``arguments`` may be sent as a call of ``name``, else the reason."""
        if name not in self._schemas:
            return "unknown_tool"
        if name not in self._validators:
            self._validators[name] = _compile(name, self._schemas[name])
        validator = self._validators[name]
        if validator is None:
            return None
        try:
            ok = validator.is_valid(arguments)
        except Exception as exc:  # an unresolvable $ref and the like: the schema's fault
            log.warning("tool %r: its schema cannot be checked (%s); call accepted", name, exc)
            return None
        return None if ok else "schema"


def _compile(name: str, schema: Mapping[str, Any] | None) -> Any:
    if not schema:
        return None
    try:
        cls = validator_for(schema, default=Draft202012Validator)
        cls.check_schema(schema)
        return cls(schema)
    except SchemaError as exc:
        problem = exc.message
    except Exception as exc:  # e.g. a "$schema" that is not a string
        problem = str(exc)
    log.warning("tool %r has an invalid JSON Schema (%s); only an arguments object is "
                "required", name, problem)
    return None


Output = str | ParsedCall


class ToolCallParser:
    """Split answer text into text pieces and :class:`ParsedCall` objects, incrementally.

    ``feed`` returns what can be sent now, ``close`` what is left at the end (held text,
    and an unclosed block as text). ``calls`` counts calls found, ``rejected`` the blocks
    sent as text, by reason (see :data:`REJECT_REASONS`), and ``rejected_tools`` the names
    of unknown or failing tools (for the monitor; at most a few).

    Whitespace right before a call, between calls and at the very end after a call is
    dropped, so an answer of calls only has no text at all.
    """

    __slots__ = (
        "_block",
        "_block_tail",
        "_fence",
        "_held",
        "_in_block",
        "_inline",
        "_line_blank",
        "_ws",
        "calls",
        "rejected",
        "rejected_tools",
        "tools",
    )

    def __init__(self, tools: ToolSet) -> None:
        self.tools = tools
        self.calls = 0
        self.rejected: Counter[str] = Counter()
        self.rejected_tools: list[str] = []
        self._held = ""  # undecided text: a possible "<tool_call" start or a backtick run
        self._ws = ""  # trailing whitespace of the text sent so far
        self._in_block = False
        self._block: list[str] = []
        self._block_tail = ""  # last characters of the block, to find CLOSE across pieces
        self._fence: tuple[str, int] | None = None  # (char, length) of an open code fence
        self._inline = False  # inside an inline code span
        self._line_blank = True  # nothing but whitespace since the last newline

    # -- public ----------------------------------------------------------------------------

    def feed(self, text: str) -> list[Output]:
        out: list[Output] = []
        if self._held:
            text = self._held + text
            self._held = ""
        while text:
            text = self._block_piece(text, out) if self._in_block else self._text_piece(text, out)
        return out

    def close(self) -> list[Output]:
        out: list[Output] = []
        if self._in_block:
            self._in_block = False
            raw = OPEN + "".join(self._block)
            self._block.clear()
            self.rejected["unclosed"] += 1
            self._text(raw, out)
        if self._held:
            held, self._held = self._held, ""
            self._text(held, out)
        if self._ws and not self.calls:
            out.append(self._ws)
        self._ws = ""
        return out

    # -- text ------------------------------------------------------------------------------

    def _text_piece(self, buf: str, out: list[Output]) -> str:
        """Scan text; returns what follows an opening tag (block content), else ``""``."""
        start = pos = 0
        n = len(buf)
        search = _SPECIAL.search
        while True:
            m = search(buf, pos)
            if m is None:
                break
            j = m.start()
            if self._line_blank and j > pos and not buf[pos:j].isspace():
                self._line_blank = False
            c = buf[j]
            if c == "\n":
                self._line_blank = True
                self._inline = False
                pos = j + 1
                continue
            if c == "<":
                if self._fence is None and not self._inline:
                    if buf.startswith(OPEN, j):
                        self._text(buf[start:j], out)
                        self._in_block = True
                        self._block_tail = ""
                        return buf[j + len(OPEN) :]
                    if OPEN.startswith(buf[j:]):  # "<tool" at the end: wait for more
                        self._text(buf[start:j], out)
                        self._held = buf[j:]
                        return ""
                self._line_blank = False
                pos = j + 1
                continue
            k = j + 1
            while k < n and buf[k] == c:
                k += 1
            if k == n:  # a run of ` or ~ at the end: its length is not known yet
                self._text(buf[start:j], out)
                self._held = buf[j:]
                return ""
            self._mark(c, k - j)
            pos = k
        if self._line_blank and pos < n and not buf[pos:].isspace():
            self._line_blank = False
        self._text(buf[start:], out)
        return ""

    def _mark(self, c: str, run: int) -> None:
        """A run of backticks or tildes: a code fence at a line start, else inline code."""
        if self._line_blank and run >= 3:
            if self._fence is None:
                self._fence = (c, run)
            elif self._fence[0] == c and run >= self._fence[1]:
                self._fence = None
        elif c == "`" and self._fence is None:
            self._inline = not self._inline
        self._line_blank = False

    def _text(self, text: str, out: list[Output]) -> None:
        if not text:
            return
        body = text.rstrip()
        if not body:
            self._ws += text
            return
        out.append(self._ws + body if self._ws else body)
        self._ws = text[len(body) :]

    # -- blocks ----------------------------------------------------------------------------

    def _block_piece(self, buf: str, out: list[Output]) -> str:
        """Collect block text; at CLOSE, emit the call (or the raw text) and return the rest."""
        window = self._block_tail + buf
        i = window.find(CLOSE)
        if i < 0:
            self._block.append(buf)
            self._block_tail = window[-(len(CLOSE) - 1) :]
            return ""
        cut = i - len(self._block_tail)  # where CLOSE starts in buf (may be < 0)
        if cut >= 0:
            self._block.append(buf[:cut])
        inner = "".join(self._block)
        if cut < 0:
            inner = inner[:cut]
        self._block.clear()
        self._block_tail = ""
        self._in_block = False
        self._line_blank = False
        self._inline = False
        self._finish_block(inner, out)
        return buf[cut + len(CLOSE) :]

    def _finish_block(self, inner: str, out: list[Output]) -> None:
        raw = OPEN + inner + CLOSE
        try:
            call, reason, name = _parse_call(inner, self.tools)
        except Exception:  # never raise on model output, whatever it is
            log.exception("tool call block could not be read")
            call, reason, name = None, "invalid_json", None
        if call is None:
            self.rejected[reason] += 1
            if name is not None and len(self.rejected_tools) < 5:
                self.rejected_tools.append(name[:64])
            self._text(raw, out)
            return
        self.calls += 1
        self._ws = ""  # whitespace between text and a call is layout, not content
        out.append(ParsedCall(call[0], call[1], raw))


def _parse_call(
    inner: str, tools: ToolSet
) -> tuple[tuple[str, str] | None, str, str | None]:
    """((name, arguments JSON) or None, rejection reason, tool name if one was given)."""
    value = _lenient_json(inner)
    if not isinstance(value, dict):
        return None, "invalid_json", None
    fn = value.get("function")
    if isinstance(fn, dict) and "name" in fn:  # {"type": "function", "function": {...}}
        value = fn
    name = value.get("name")
    args = value.get("arguments", value.get("parameters"))
    if args is None:
        args = {}
    elif isinstance(args, str):  # arguments as a JSON string, as in the OpenAI API
        args = _lenient_json(args) if args.strip() else {}
    if not isinstance(name, str) or not isinstance(args, dict):
        return None, "invalid_json", name if isinstance(name, str) else None
    reason = tools.check(name, args)
    if reason is not None:
        return None, reason, name
    try:
        text = json.dumps(args, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or Infinity (JSON5 has them): not JSON for the client
        return None, "invalid_json", name
    return (name, text), "", name


def _lenient_json(text: str) -> Any:
    """The first JSON object in ``text`` (code fences around it allowed), JSON5 accepted;
    None when there is none."""
    s = _FENCE_END.sub("", _FENCE_LINE.sub("", text.strip(), count=1), count=1)
    a, b = s.find("{"), s.rfind("}")
    if a < 0 or b < a:
        return None
    s = s[a : b + 1]
    # The stdlib, not orjson: it keeps integers past 64 bits exact. Blocks are small.
    try:
        return json.loads(s)
    except ValueError:
        pass
    try:
        return json5.loads(s)
    except Exception:  # json5 raises ValueError, and worse on pathological input
        return None
