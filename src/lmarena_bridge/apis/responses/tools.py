"""Responses API tools -> the OpenAI function tools the tool emulation knows.

* ``function`` tools pass as they are (top-level ``name``/``parameters``).
* ``custom`` tools (free-form input, e.g. Codex's ``apply_patch`` with a grammar) become a
  function with one string parameter ``input``; the grammar goes into its description.
  Their calls go back as ``custom_tool_call`` items.
* ``namespace`` tools are flattened: the model sees ``<namespace>.<name>`` (or the two
  joined when the namespace already ends in ``__``, as MCP namespaces do); calls carry
  their ``namespace`` back.
* Built-in tools the bridge cannot run (``web_search``, ``file_search``, ``tool_search``,
  ...) are dropped and reported; forcing one through ``tool_choice`` is a 400.

Pure: no I/O. ``ToolTable`` remembers what every flattened name stands for, for the
encoder (apis/responses/items.py) and for earlier calls in the input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lmarena_bridge.errors import InvalidRequest
from lmarena_bridge.protocol.openai import (
    FunctionDefinition,
    NamedFunction,
    NamedToolChoice,
    Tool,
)

CUSTOM_INPUT = "input"  # the one parameter of a custom tool as the model sees it
_CHOICE_MODES = ("none", "auto", "required")


@dataclass(frozen=True, slots=True)
class ToolRef:
    """What a name the model calls stands for in the client's request."""

    kind: str  # "function" | "custom"
    name: str
    namespace: str | None = None


def flat_name(name: str, namespace: str | None) -> str:
    if not namespace:
        return name
    return namespace + name if namespace.endswith("__") else f"{namespace}.{name}"


@dataclass
class ToolTable:
    tools: list[Tool] = field(default_factory=list)
    refs: dict[str, ToolRef] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # built-in tool types, once each

    def add_all(self, raw_tools: list[Any], where: str) -> None:
        for i, raw in enumerate(raw_tools):
            self.add(raw, f"{where}[{i}]")

    def add(self, raw: Any, where: str, namespace: str | None = None) -> None:
        if not isinstance(raw, dict):
            raise InvalidRequest(f"'{where}' must be an object.", param=where)
        kind = raw.get("type")
        if kind == "function" and isinstance(raw.get("function"), dict):
            raw = {**raw["function"], "type": "function"}  # a Chat Completions shape
        if kind == "namespace" and namespace is None:
            ns = _name(raw, where)
            for j, inner in enumerate(raw.get("tools") or ()):
                self.add(inner, f"{where}.tools[{j}]", namespace=ns)
        elif kind == "function":
            self._add_function(raw, where, namespace)
        elif kind == "custom":
            self._add_custom(raw, where, namespace)
        elif isinstance(kind, str) and kind:
            if kind not in self.dropped:
                self.dropped.append(kind)
        else:
            raise InvalidRequest(f"'{where}' has no 'type'.", param=f"{where}.type")

    def _add_function(self, raw: dict[str, Any], where: str, ns: str | None) -> None:
        name = _name(raw, where)
        params = raw.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise InvalidRequest(
                f"'{where}.parameters' must be a JSON Schema object.", param=f"{where}.parameters"
            )
        desc = raw.get("description")
        self._put(FunctionDefinition(
            name=flat_name(name, ns),
            description=desc if isinstance(desc, str) else None,
            parameters=params,
        ), ToolRef("function", name, ns))

    def _add_custom(self, raw: dict[str, Any], where: str, ns: str | None) -> None:
        name = _name(raw, where)
        desc = raw.get("description") if isinstance(raw.get("description"), str) else ""
        fmt = raw.get("format")
        about = "The tool's free-form input, as one string."
        if isinstance(fmt, dict) and fmt.get("type") == "grammar":
            about += (
                f" It must follow this {fmt.get('syntax') or ''} grammar:\n"
                f"{fmt.get('definition') or ''}"
            )
        schema = {
            "type": "object",
            "properties": {CUSTOM_INPUT: {"type": "string", "description": about}},
            "required": [CUSTOM_INPUT],
            "additionalProperties": False,
        }
        self._put(
            FunctionDefinition(name=flat_name(name, ns), description=desc, parameters=schema),
            ToolRef("custom", name, ns),
        )

    def _put(self, fn: FunctionDefinition, ref: ToolRef) -> None:
        self.tools.append(Tool(type="function", function=fn))
        self.refs[fn.name] = ref

    # -- tool_choice -----------------------------------------------------------------------

    def choice(self, raw: str | dict[str, Any] | None) -> str | NamedToolChoice | None:
        """The neutral ``tool_choice``; ``allowed_tools`` narrows ``tools`` in place."""
        if raw is None or (isinstance(raw, str) and raw in _CHOICE_MODES):
            return raw
        if isinstance(raw, str):
            raise InvalidRequest(
                f"Invalid value for 'tool_choice': '{raw}'. Use \"none\", \"auto\", "
                '"required" or {"type": "function", "name": ...}.',
                param="tool_choice",
            )
        kind = raw.get("type")
        if kind in ("function", "custom"):
            name = flat_name(str(raw.get("name") or ""), raw.get("namespace"))
            if name not in self.refs:
                raise InvalidRequest(
                    f"'tool_choice' names the tool '{name}', which is not among 'tools'.",
                    param="tool_choice",
                )
            return NamedToolChoice(function=NamedFunction(name=name))
        if kind == "allowed_tools":
            allowed = {
                flat_name(str(t.get("name") or t.get("type")), t.get("namespace"))
                for t in raw.get("tools") or ()
                if isinstance(t, dict)
            }
            self.tools = [t for t in self.tools if t.function.name in allowed]
            mode = raw.get("mode")
            return mode if mode in _CHOICE_MODES else "auto"
        raise InvalidRequest(
            f"'tool_choice' forces the built-in tool '{kind}', which the bridge cannot run "
            "(only function and custom tools are served).",
            param="tool_choice",
            code="unsupported_tool",
        )


def custom_input(arguments: str) -> str:
    """A custom tool call's input from the emulated call's arguments (``{"input": …}``)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get(CUSTOM_INPUT), str):
        return str(value[CUSTOM_INPUT])
    return arguments


def _name(raw: dict[str, Any], where: str) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{where}.name' is required.", param=f"{where}.name")
    return name
