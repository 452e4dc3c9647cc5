"""Chat messages from every convention into one canonical shape.

The canonical message (:data:`tracemark.model.MESSAGE_TYPE`) is a dict with ``role``,
``content`` (text), ``name``, ``tool_call_id`` and ``tool_calls`` (a list of
``{"id", "name", "arguments"}`` with ``arguments`` as compact JSON text, or None).

Understood inputs: OpenAI chat (``content`` as text or parts, ``tool_calls``, legacy
``function_call``), OpenAI Responses items, OTel GenAI ``parts`` (``text``, ``tool_call``,
``tool_call_response``), Anthropic content blocks (``tool_use``, ``tool_result``), Gemini
``parts`` (``functionCall``, ``functionResponse``), LangChain messages (plain or serialized
``lc`` constructors), and Datadog LLM Observability messages (``tool_calls``, ``tool_results``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = [
    "canonical_json",
    "display_text",
    "is_message_like",
    "last_message_text",
    "messages_from_payload",
    "normalize_message",
    "normalize_messages",
    "parse_json",
]

ROLE_ALIASES = {
    "human": "user",
    "humanmessage": "user",
    "ai": "assistant",
    "aimessage": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "systemmessage": "system",
    "tool": "tool",
    "toolmessage": "tool",
    "function": "tool",
    "functionmessage": "tool",
    "ipython": "tool",
}
_LANGCHAIN_TYPES = {"human", "ai", "system", "tool", "function", "chat", "generic", "developer"}
_NO_VALUE = object()


def _langchain_type(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj["type"]`` names a LangChain message type (any other value, of any type,
    does not)."""
    kind = obj.get("type")
    return isinstance(kind, str) and kind in _LANGCHAIN_TYPES


# -- JSON with orjson where it provably gives what the json module gives ----------------------
#
# orjson parses exactly as ``json.loads`` does except: it rejects NaN / Infinity, numbers that
# overflow a float and lone surrogates (we then use ``json``), and it reads integers beyond 64
# bits as floats (we send text holding 20 or more digits in a row to ``json``). orjson writes
# exactly what ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` writes for plain
# JSON data except floats whose magnitude is in [1e-9, 1e-4) (``1e-5`` is ``0.00001``, ``1e-07``
# is ``1e-7``): output holding such a number token goes through ``json``. Other Python values
# go through ``json`` too: subclasses of dict, list, str and int, dataclasses and datetimes make
# orjson raise, and the rest (NaN, enums, tuples, UUIDs...) fail the round trip.
# tests/test_ingest_fast_paths.py checks all of this against the reference.
_NEVER_MAPS = frozenset((str, list, int, float, bool, type(None), bytes, tuple))


def _is_map(value: Any) -> bool:
    """``isinstance(value, Mapping)``, without the slow abstract-class check for the types
    JSON decodes to."""
    kind = type(value)
    return kind is dict or (kind not in _NEVER_MAPS and isinstance(value, Mapping))


_REFERENCE = False  # True: every fast path off (see reference_paths, used by the tests)


class reference_paths:
    """Within ``with reference_paths():`` every fast path of the ingest code is off and the
    reference implementations run (the json module, the general message normalizer, the
    per-row payload code of the readers). Tests use it to prove the fast paths change
    nothing; it is not thread safe and not meant for users."""

    def __enter__(self) -> None:
        global _REFERENCE
        self._before = _REFERENCE
        _REFERENCE = True

    def __exit__(self, *exc: object) -> None:
        global _REFERENCE
        _REFERENCE = self._before


def fast_paths() -> bool:
    """Whether the fast paths are on (they are, outside :class:`reference_paths`)."""
    return not _REFERENCE


_PASS_THROUGH = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_WIDE_INT = re.compile(r"\d{20}|-\d{19}")
_SMALL_FLOAT = re.compile(rb"(?:^|[:,\[])-?(?:0\.0000|\d(?:\.\d+)?e-\d(?!\d))")


def _fast_loads(text: str) -> Any:
    """``text`` decoded by orjson when that is what ``json.loads`` gives, else ``_NO_VALUE``
    (then only ``json.loads`` can tell the value, or the error)."""
    if not _REFERENCE and _WIDE_INT.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return _NO_VALUE


def _loads(text: str) -> Any:
    """``json.loads(text)``, through orjson when that gives the same value."""
    value = _fast_loads(text)
    return json.loads(text) if value is _NO_VALUE else value


def _fast_dumps(value: Any, *, decoded: bool) -> str | None:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)`` when
    orjson writes exactly that, else None; ``decoded`` promises ``value`` came from orjson's
    decoder (plain JSON data, so only the float check is needed)."""
    if _REFERENCE:
        return None
    try:
        out = orjson.dumps(value, option=0 if decoded else _PASS_THROUGH)
    except TypeError:  # other types, wide integers, deep nesting: the json module decides
        return None
    if (b"e-" in out or b"0.0000" in out) and _SMALL_FLOAT.search(out) is not None:
        return None
    if not decoded:
        try:
            if orjson.loads(out) != value:  # NaN, datetimes, enums, tuples, dataclasses...
                return None
        except Exception:
            return None
    return out.decode()


def _compact(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)``."""
    fast = _fast_dumps(value, decoded=False)
    if fast is not None:
        return fast
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def parse_json(value: Any) -> Any:
    """``value`` decoded if it is a string holding a JSON object or array, else ``value``."""
    kind = type(value)
    if kind is dict or kind is list:
        return value
    if isinstance(value, str | bytes):
        text = value.strip() if isinstance(value, str) else value.strip().decode("utf-8", "replace")
        if text[:1] in ("{", "["):
            try:
                return _loads(text)
            except ValueError:
                return value
    return value


def canonical_json(value: Any, *, decoded: bool = False) -> str | None:
    """Compact JSON text for tool arguments: a JSON string is re-encoded compactly (so
    ``'{"a": 1}'`` and ``{"a": 1}`` agree); text that is not JSON is kept as it is.

    ``decoded=True`` promises that ``value`` was decoded from JSON text by orjson (dicts,
    lists, text, numbers, booleans and nulls only), which spares a check; the result is the
    same."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") or stripped in ("null", "true", "false"):
            parsed = _fast_loads(stripped)
            if parsed is not _NO_VALUE:
                fast = _fast_dumps(parsed, decoded=True)
                if fast is not None:
                    return fast
            try:
                return json.dumps(json.loads(stripped), ensure_ascii=False, separators=(",", ":"))
            except ValueError:
                return value
        return value
    if decoded:
        fast = _fast_dumps(value, decoded=True)
        if fast is not None:
            return fast
    return _compact(value)


def _text(value: Any) -> str | None:
    """Text of a content value: strings as they are, parts joined, other JSON as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        pieces = [p for p in (_part_text(part) for part in value) if p is not None]
        return "\n".join(pieces) if pieces else None
    if _is_map(value):
        piece = _part_text(value)
        if piece is not None:
            return piece
    return json.dumps(value, ensure_ascii=False, default=str)


def _part_text(part: Any) -> str | None:
    if part is None:
        return None
    if isinstance(part, str):
        return part
    if not _is_map(part):
        return json.dumps(part, ensure_ascii=False, default=str)
    if "message_content" in part and _is_map(part["message_content"]):
        part = part["message_content"]  # OpenInference flattened contents
    kind = str(part.get("type", "")).lower()
    if kind in ("tool_call", "tool_use", "function_call", "tool_call_response", "tool_result"):
        return None
    for key in ("text", "content", "output_text", "input_text", "refusal"):
        value = part.get(key)
        if isinstance(value, str):
            return value
    if kind in ("image_url", "image", "input_image"):
        url = part.get("image_url") or part.get("image") or part.get("url") or part.get("source")
        if _is_map(url):
            url = url.get("url") or url.get("media_type") or "image"
        return f"[image: {url}]" if isinstance(url, str) and len(url) < 200 else "[image]"
    if kind in ("uri", "blob", "file", "input_file", "audio", "input_audio"):
        return f"[{kind}: {part.get('uri') or part.get('mime_type') or part.get('filename') or ''}]"
    if "functionCall" in part or "functionResponse" in part:
        return None
    return json.dumps(part, ensure_ascii=False, default=str)


def _tool_call(raw: Any) -> dict[str, Any] | None:
    if not _is_map(raw):
        return None
    if "tool_call" in raw and _is_map(raw["tool_call"]):
        raw = raw["tool_call"]  # OpenInference flattened tool calls
    fn = raw.get("function") if _is_map(raw.get("function")) else None
    name = (fn or {}).get("name", raw.get("name"))
    if fn is not None and "arguments" in fn:
        args = fn.get("arguments")
    elif "arguments" in raw:
        args = raw.get("arguments")
    elif "args" in raw:
        args = raw.get("args")
    elif "input" in raw:
        args = raw.get("input")
    else:
        args = None
    call_id = raw.get("id", raw.get("tool_call_id", raw.get("tool_id", raw.get("call_id"))))
    return {
        "id": None if call_id is None else str(call_id),
        "name": None if name is None else str(name),
        "arguments": canonical_json(args),
    }


def _role(raw: Any) -> str | None:
    if raw is None:
        return None
    role = str(raw).strip()
    return ROLE_ALIASES.get(role.lower(), role.lower())


def _message(
    role: str | None,
    content: str | None,
    *,
    name: Any = None,
    tool_call_id: Any = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "role": role,
        "content": content,
        "name": None if name is None else str(name),
        "tool_call_id": None if tool_call_id is None else str(tool_call_id),
        "tool_calls": tool_calls or None,
    }


# The common shape (OpenAI chat, Datadog): a dict with a text role, text (or no) content, text
# name / tool_call_id, and none of the keys that select another convention. normalize_message
# reads it through _fast_message, which is that function's own logic for this shape only.
_SLOW_KEYS = frozenset(
    ("message", "lc", "parts", "contents", "additional_kwargs", "function_call", "tool_use_id")
)
_ROLES: dict[str, str | None] = {}


def _tool_results(results: Any) -> list[dict[str, Any]]:
    """Datadog LLM Observability's ``tool_results`` beside a message, as tool messages."""
    if not isinstance(results, list):
        return []
    return [
        _message(
            "tool",
            _text(res.get("result")),
            name=res.get("name"),
            tool_call_id=res.get("tool_id", res.get("id")),
        )
        for res in results
        if _is_map(res)
    ]


def _is_plain(obj: Any) -> bool:
    """Whether ``obj`` is a message of the common shape (see ``_fast_message``)."""
    return (
        not _REFERENCE
        and type(obj) is dict
        and type(obj.get("role")) is str
        and _SLOW_KEYS.isdisjoint(obj)
    )


def _fast_message(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    """:func:`normalize_message` of a message of the common shape, or None when ``obj``'s
    content, name or tool_call_id is not text (the general code then reads it)."""
    content = obj.get("content")
    name = obj.get("name")
    call_id = obj.get("tool_call_id")
    if (
        (content is not None and type(content) is not str)
        or (name is not None and type(name) is not str)
        or (call_id is not None and type(call_id) is not str)
    ):
        return None
    raw_role = obj["role"]
    role = _ROLES.get(raw_role)
    if role is None:
        role = _role(raw_role)
        if len(_ROLES) < 1024:
            _ROLES[raw_role] = role
    out: list[dict[str, Any]] = []
    raw_calls = obj.get("tool_calls")
    tool_calls = (
        [c for c in map(_tool_call, raw_calls) if c] if isinstance(raw_calls, list) else None
    )
    out.extend(_tool_results(obj.get("tool_results")))
    if tool_calls or not out or content not in (None, ""):
        own = {
            "role": role,
            "content": content,
            "name": name,
            "tool_call_id": call_id,
            "tool_calls": tool_calls or None,
        }
        if role in ("user", "tool"):
            out.append(own)
        else:
            out.insert(0, own)
    return out


def is_message_like(obj: Any) -> bool:
    """Whether ``obj`` looks like one chat message in any understood convention."""
    if _is_plain(obj):
        return "content" in obj or "tool_calls" in obj or "tool_results" in obj or len(obj) <= 3
    if not _is_map(obj):
        return False
    if obj.get("lc") == 1 and obj.get("type") == "constructor":
        return str((obj.get("id") or [""])[-1]).lower().endswith("message")
    if "message" in obj and _is_map(obj["message"]) and len(obj) <= 2:
        return is_message_like(obj["message"])
    if "role" in obj and (
        "content" in obj or "parts" in obj or "tool_calls" in obj or "tool_results" in obj
    ):
        return True
    if "role" in obj and len(obj) <= 3:
        return True
    return _langchain_type(obj) and "content" in obj


def normalize_message(obj: Any) -> list[dict[str, Any]]:
    """One source message as one or more canonical messages.

    A message that carries several tool results (GenAI ``tool_call_response`` parts,
    Anthropic ``tool_result`` blocks, Datadog ``tool_results``) becomes one ``tool`` message
    per result, so every convention yields the same list.
    """
    if _is_plain(obj):
        fast = _fast_message(obj)
        if fast is not None:
            return fast
    if not _is_map(obj):
        return [_message(None, _text(obj))]
    if "message" in obj and _is_map(obj["message"]) and len(obj) <= 2:
        obj = obj["message"]  # {"message": {...}} wrappers (OpenInference, LangChain generations)
    if obj.get("lc") == 1 and obj.get("type") == "constructor":
        cls = str((obj.get("id") or [""])[-1]).lower()
        kwargs = dict(obj.get("kwargs") or {})
        kwargs.setdefault("type", cls.removesuffix("messagechunk").removesuffix("message"))
        return normalize_message(kwargs)

    role = _role(obj.get("role"))
    if role is None and _langchain_type(obj):
        role = _role(obj.get("type"))
        if role == "chat":
            role = _role(obj.get("role")) or "user"

    out: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    texts: list[str] = []

    parts = obj.get("parts")
    content = obj.get("content", obj.get("contents", _NO_VALUE))
    blocks: list[Any] | None = None
    if isinstance(parts, list):
        blocks = parts
    elif isinstance(content, list):
        blocks = content
    if blocks is not None:
        for part in blocks:
            if _is_map(part) and _is_map(part.get("message_content")):
                part = part["message_content"]
            kind = str(part.get("type", "")).lower() if _is_map(part) else ""
            if kind in ("tool_call", "tool_use", "function_call"):
                call = _tool_call(part)
                if call:
                    tool_calls.append(call)
            elif kind in ("tool_call_response", "tool_result", "function_call_output"):
                result = part.get("response", part.get("content", part.get("output")))
                call_id = part.get("id", part.get("tool_use_id", part.get("call_id")))
                out.append(_message("tool", _text(result), tool_call_id=call_id))
            elif _is_map(part) and "functionCall" in part:
                fc = part["functionCall"] or {}
                tool_calls.append(
                    {
                        "id": fc.get("id"),
                        "name": fc.get("name"),
                        "arguments": canonical_json(fc.get("args")),
                    }
                )
            elif _is_map(part) and "functionResponse" in part:
                fr = part["functionResponse"] or {}
                out.append(
                    _message(
                        "tool",
                        _text(fr.get("response")),
                        name=fr.get("name"),
                        tool_call_id=fr.get("id"),
                    )
                )
            else:
                piece = _part_text(part)
                if piece is not None:
                    texts.append(piece)
        text = "\n".join(texts) if texts else None
    elif content is _NO_VALUE:
        text = None
    else:
        text = _text(content)

    raw_calls = obj.get("tool_calls")
    if not raw_calls and _is_map(obj.get("additional_kwargs")):
        raw_calls = obj["additional_kwargs"].get("tool_calls")
    if isinstance(raw_calls, list):
        tool_calls.extend(c for c in (_tool_call(r) for r in raw_calls) if c)
    if _is_map(obj.get("function_call")):
        call = _tool_call(obj["function_call"])
        if call:
            tool_calls.append(call)

    out.extend(_tool_results(obj.get("tool_results")))

    if tool_calls or not out or text not in (None, ""):
        own = _message(
            role,
            text,
            name=obj.get("name"),
            tool_call_id=obj.get("tool_call_id", obj.get("tool_use_id")),
            tool_calls=tool_calls,
        )
        # tool results answer earlier calls: they come before a user's new text
        if role in ("user", "tool"):
            out.append(own)
        else:
            out.insert(0, own)
    return out


def normalize_messages(obj: Any) -> list[dict[str, Any]]:
    """A list of canonical messages from a message list (or a JSON string of one), a single
    message, or a request body with ``messages``. Raises ``ValueError`` when ``obj`` holds no
    messages; see :func:`messages_from_payload` for a lenient search."""
    found = messages_from_payload(obj, direction="input")
    if found is None:
        raise ValueError(f"not a list of chat messages: {str(obj)[:120]!r}")
    return found


def _flatten_lists(items: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, list):
            out.extend(_flatten_lists(item))
        else:
            out.append(item)
    return out


def _responses_items(items: list[Any]) -> list[dict[str, Any]] | None:
    """OpenAI Responses API items (``message``, ``function_call``, ``function_call_output``)."""
    out: list[dict[str, Any]] = []
    for item in items:
        if not _is_map(item):
            return None
        kind = item.get("type")
        if kind == "message" or (kind is None and "role" in item):
            out.extend(normalize_message(item))
        elif kind == "function_call":
            call = {
                "id": item.get("call_id", item.get("id")),
                "name": item.get("name"),
                "arguments": canonical_json(item.get("arguments")),
            }
            if out and out[-1]["role"] == "assistant" and out[-1]["content"] is None:
                out[-1]["tool_calls"] = [*(out[-1]["tool_calls"] or []), call]
            else:
                out.append(_message("assistant", None, tool_calls=[call]))
        elif kind == "function_call_output":
            out.append(
                _message("tool", _text(item.get("output")), tool_call_id=item.get("call_id"))
            )
        elif kind == "reasoning":
            continue
        else:
            return None
    return out


def messages_from_payload(value: Any, *, direction: str = "input") -> list[dict[str, Any]] | None:
    """Find chat messages in a request or response payload, or None if there are none.

    ``value`` may be JSON text or decoded JSON: a message list, a single message, a request with
    ``messages`` (also LangChain's nested ``[[...]]``), an OpenAI completion (``choices``), an
    Anthropic response (``role`` + ``content`` blocks), a LangChain ``generations`` result,
    OpenAI Responses ``input`` / ``output`` items, or, for outputs, ``{"text": ...}``.
    """
    value = parse_json(value)
    if isinstance(value, list):
        flat = _flatten_lists(value)
        if flat and all(is_message_like(m) for m in flat):
            return [msg for m in flat for msg in normalize_message(m)]
        if flat and all(_is_map(m) and "type" in m for m in flat):
            return _responses_items(flat)
        return None
    if not _is_map(value):
        return None
    if is_message_like(value):
        return normalize_message(value)
    for key in ("messages", "input_messages", "output_messages"):
        if key in value:
            found = messages_from_payload(value[key], direction=direction)
            if found is not None:
                return found
    if isinstance(value.get("choices"), list):
        msgs: list[dict[str, Any]] = []
        for choice in value["choices"]:
            if _is_map(choice) and _is_map(choice.get("message")):
                msgs.extend(normalize_message({"role": "assistant", **choice["message"]}))
            elif _is_map(choice) and isinstance(choice.get("text"), str):
                msgs.append(_message("assistant", choice["text"]))
        return msgs or None
    if isinstance(value.get("generations"), list):
        msgs = []
        for gen in _flatten_lists(value["generations"]):
            if _is_map(gen) and gen.get("message") is not None:
                msgs.extend(normalize_message(gen["message"]))
            elif _is_map(gen) and isinstance(gen.get("text"), str):
                msgs.append(_message("assistant", gen["text"]))
        return msgs or None
    for key in ("output", "input"):
        if isinstance(value.get(key), list):
            found = _responses_items(value[key])
            if found:
                return found
    if direction == "output":
        for key in ("text", "completion", "content"):
            if isinstance(value.get(key), str):
                return [_message("assistant", value[key])]
    return None


_TEXT_KEYS = (
    "text",
    "content",
    "question",
    "query",
    "input",
    "prompt",
    "answer",
    "output",
    "result",
)


# {key: text} payloads (tool and chain inputs and outputs) whose key display_text reads and in
# which messages_from_payload finds nothing: for them the text is the value, and nothing else
# need be looked at. ("text" and "content" are an assistant's reply in an output.)
_WRAPPER_KEYS = {
    "input": frozenset(_TEXT_KEYS),
    "output": frozenset(_TEXT_KEYS) - {"text", "content"},
}


def wrapped_text(value: Any, direction: str) -> str | None:
    """The text of a ``{key: text}`` payload whose key is one :func:`display_text` reads
    (``input``, ``output``, ``question``...), when :func:`messages_from_payload` finds no
    messages in it: then that text is its display text. None for any other value."""
    if _REFERENCE or type(value) is not dict or len(value) != 1:
        return None
    ((key, text),) = value.items()
    if type(text) is str and key in _WRAPPER_KEYS["output" if direction == "output" else "input"]:
        return text
    return None


def display_text(value: Any, *, direction: str = "input") -> str | None:
    """The text a person wants to read for an input or output value.

    Messages give the last user message (input) or the assistant's reply (output); an object
    with one obvious text field (``text``, ``question``, ``answer``...) gives that field; any
    other value is returned as text (JSON as JSON).
    """
    if value is None:
        return None
    decoded = parse_json(value)
    if isinstance(decoded, str):
        return decoded
    msgs = messages_from_payload(decoded, direction=direction)
    return _display_rest(value, decoded, msgs, direction)


def display_text_with(
    value: Any, messages: list[dict[str, Any]] | None, *, direction: str = "input"
) -> str | None:
    """:func:`display_text` of a decoded ``value`` (a dict or a list) whose messages the
    caller has already found (``messages_from_payload(value, direction=direction)``): the
    same text without finding them again."""
    if _REFERENCE or not (type(value) is dict or type(value) is list):
        return display_text(value, direction=direction)
    return _display_rest(value, value, messages, direction)


def last_message_text(msgs: list[dict[str, Any]] | None, direction: str) -> str | None:
    """The text a person reads of normalized messages: the last user message with content
    (input), else the last message with content; None when no message has any."""
    if not msgs:
        return None
    if direction == "input":
        users = [m["content"] for m in msgs if m["role"] == "user" and m["content"]]
        if users:
            return users[-1]
    texts = [m["content"] for m in msgs if m["content"]]
    return texts[-1] if texts else None


def _display_rest(
    value: Any, decoded: Any, msgs: list[dict[str, Any]] | None, direction: str
) -> str | None:
    text = last_message_text(msgs, direction)
    if text is not None:
        return text
    if type(decoded) is dict and not _REFERENCE:
        for key in _TEXT_KEYS:
            text = decoded.get(key)
            if type(text) is str or isinstance(text, str):
                return text
    elif _is_map(decoded):
        strings = {k: v for k, v in decoded.items() if isinstance(v, str)}
        for key in _TEXT_KEYS:
            if key in strings:
                return strings[key]
    if isinstance(value, str):
        return value
    return json.dumps(decoded, ensure_ascii=False, default=str)
