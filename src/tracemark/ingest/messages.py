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
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "canonical_json",
    "display_text",
    "is_message_like",
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


def parse_json(value: Any) -> Any:
    """``value`` decoded if it is a string holding a JSON object or array, else ``value``."""
    if isinstance(value, str | bytes):
        text = value.strip() if isinstance(value, str) else value.strip().decode("utf-8", "replace")
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


def canonical_json(value: Any) -> str | None:
    """Compact JSON text for tool arguments: a JSON string is re-encoded compactly (so
    ``'{"a": 1}'`` and ``{"a": 1}`` agree); text that is not JSON is kept as it is."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") or stripped in ("null", "true", "false"):
            try:
                return json.dumps(json.loads(stripped), ensure_ascii=False, separators=(",", ":"))
            except ValueError:
                return value
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _text(value: Any) -> str | None:
    """Text of a content value: strings as they are, parts joined, other JSON as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        pieces = [p for p in (_part_text(part) for part in value) if p is not None]
        return "\n".join(pieces) if pieces else None
    if isinstance(value, Mapping):
        piece = _part_text(value)
        if piece is not None:
            return piece
    return json.dumps(value, ensure_ascii=False, default=str)


def _part_text(part: Any) -> str | None:
    if part is None:
        return None
    if isinstance(part, str):
        return part
    if not isinstance(part, Mapping):
        return json.dumps(part, ensure_ascii=False, default=str)
    if "message_content" in part and isinstance(part["message_content"], Mapping):
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
        if isinstance(url, Mapping):
            url = url.get("url") or url.get("media_type") or "image"
        return f"[image: {url}]" if isinstance(url, str) and len(url) < 200 else "[image]"
    if kind in ("uri", "blob", "file", "input_file", "audio", "input_audio"):
        return f"[{kind}: {part.get('uri') or part.get('mime_type') or part.get('filename') or ''}]"
    if "functionCall" in part or "functionResponse" in part:
        return None
    return json.dumps(part, ensure_ascii=False, default=str)


def _tool_call(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    if "tool_call" in raw and isinstance(raw["tool_call"], Mapping):
        raw = raw["tool_call"]  # OpenInference flattened tool calls
    fn = raw.get("function") if isinstance(raw.get("function"), Mapping) else None
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


def is_message_like(obj: Any) -> bool:
    """Whether ``obj`` looks like one chat message in any understood convention."""
    if not isinstance(obj, Mapping):
        return False
    if obj.get("lc") == 1 and obj.get("type") == "constructor":
        return str((obj.get("id") or [""])[-1]).lower().endswith("message")
    if "message" in obj and isinstance(obj["message"], Mapping) and len(obj) <= 2:
        return is_message_like(obj["message"])
    if "role" in obj and any(k in obj for k in ("content", "parts", "tool_calls", "tool_results")):
        return True
    if "role" in obj and len(obj) <= 3:
        return True
    return obj.get("type") in _LANGCHAIN_TYPES and "content" in obj


def normalize_message(obj: Any) -> list[dict[str, Any]]:
    """One source message as one or more canonical messages.

    A message that carries several tool results (GenAI ``tool_call_response`` parts,
    Anthropic ``tool_result`` blocks, Datadog ``tool_results``) becomes one ``tool`` message
    per result, so every convention yields the same list.
    """
    if not isinstance(obj, Mapping):
        return [_message(None, _text(obj))]
    if "message" in obj and isinstance(obj["message"], Mapping) and len(obj) <= 2:
        obj = obj["message"]  # {"message": {...}} wrappers (OpenInference, LangChain generations)
    if obj.get("lc") == 1 and obj.get("type") == "constructor":
        cls = str((obj.get("id") or [""])[-1]).lower()
        kwargs = dict(obj.get("kwargs") or {})
        kwargs.setdefault("type", cls.removesuffix("messagechunk").removesuffix("message"))
        return normalize_message(kwargs)

    role = _role(obj.get("role"))
    if role is None and obj.get("type") in _LANGCHAIN_TYPES:
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
            if isinstance(part, Mapping) and isinstance(part.get("message_content"), Mapping):
                part = part["message_content"]
            kind = str(part.get("type", "")).lower() if isinstance(part, Mapping) else ""
            if kind in ("tool_call", "tool_use", "function_call"):
                call = _tool_call(part)
                if call:
                    tool_calls.append(call)
            elif kind in ("tool_call_response", "tool_result", "function_call_output"):
                result = part.get("response", part.get("content", part.get("output")))
                call_id = part.get("id", part.get("tool_use_id", part.get("call_id")))
                out.append(_message("tool", _text(result), tool_call_id=call_id))
            elif isinstance(part, Mapping) and "functionCall" in part:
                fc = part["functionCall"] or {}
                tool_calls.append(
                    {
                        "id": fc.get("id"),
                        "name": fc.get("name"),
                        "arguments": canonical_json(fc.get("args")),
                    }
                )
            elif isinstance(part, Mapping) and "functionResponse" in part:
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
    if not raw_calls and isinstance(obj.get("additional_kwargs"), Mapping):
        raw_calls = obj["additional_kwargs"].get("tool_calls")
    if isinstance(raw_calls, list):
        tool_calls.extend(c for c in (_tool_call(r) for r in raw_calls) if c)
    if isinstance(obj.get("function_call"), Mapping):
        call = _tool_call(obj["function_call"])
        if call:
            tool_calls.append(call)

    # Datadog LLM Observability: tool results beside the message
    if isinstance(obj.get("tool_results"), list):
        for res in obj["tool_results"]:
            if isinstance(res, Mapping):
                out.append(
                    _message(
                        "tool",
                        _text(res.get("result")),
                        name=res.get("name"),
                        tool_call_id=res.get("tool_id", res.get("id")),
                    )
                )

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
        if not isinstance(item, Mapping):
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
        if flat and all(isinstance(m, Mapping) and "type" in m for m in flat):
            return _responses_items(flat)
        return None
    if not isinstance(value, Mapping):
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
            if isinstance(choice, Mapping) and isinstance(choice.get("message"), Mapping):
                msgs.extend(normalize_message({"role": "assistant", **choice["message"]}))
            elif isinstance(choice, Mapping) and isinstance(choice.get("text"), str):
                msgs.append(_message("assistant", choice["text"]))
        return msgs or None
    if isinstance(value.get("generations"), list):
        msgs = []
        for gen in _flatten_lists(value["generations"]):
            if isinstance(gen, Mapping) and gen.get("message") is not None:
                msgs.extend(normalize_message(gen["message"]))
            elif isinstance(gen, Mapping) and isinstance(gen.get("text"), str):
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
    if msgs:
        if direction == "input":
            users = [m for m in msgs if m["role"] == "user" and m["content"]]
            if users:
                return users[-1]["content"]
        texts = [m["content"] for m in msgs if m["content"]]
        if texts:
            return texts[-1]
    if isinstance(decoded, Mapping):
        strings = {k: v for k, v in decoded.items() if isinstance(v, str)}
        for key in _TEXT_KEYS:
            if key in strings:
                return strings[key]
    if isinstance(value, str):
        return value
    return json.dumps(decoded, ensure_ascii=False, default=str)
