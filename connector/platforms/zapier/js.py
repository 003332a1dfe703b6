"""The few function bodies the Zapier app needs, as ``{source}`` objects (platforms.md §1.1).

Zapier compiles each ``source`` into ``async (z, bundle) => {...}`` (or the ``args`` given),
so the app stays one JSON file that ``zapier-platform push`` uploads unchanged. Every body
is generic: what differs between operations (paths, field kinds, events) comes in as JSON
constants from the manifest, never as hand-written code per action. Constants are spliced
in for ``__NAME__`` placeholders as JSON, so no value can break out of its literal.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "after_response",
    "before_request",
    "create_perform",
    "hook_perform",
    "options_perform",
    "perform_list",
    "search_perform",
    "subscribe",
    "unsubscribe",
]

_PLACEHOLDER = re.compile(r"__[A-Z][A-Z_]*__")
# Zapier's AppError carries {message, code, status} as JSON in its message.
_STATUS_OF = (
    "const statusOf = (err) => { try { return JSON.parse(err.message).status; }"
    " catch (e) { return undefined; } };"
)
_BASE = "const base = String(bundle.authData.base_url || '');"
_PICKED = (
    "const picked = (value) => (Array.isArray(value) ? value : String(value || '').split(','))"
    ".map((v) => String(v).trim()).filter(Boolean);"
)
# The filters a trigger sends along (agent_id, ...): non-empty inputs only.
_FILTERS = (
    "const filters = {}; for (const key of __FILTERS__) {"
    " const value = bundle.inputData[key];"
    " if (value !== undefined && value !== null && value !== '') filters[key] = value; }"
)
# Events: a fixed group, or the user's pick; empty means "the connector's default".
_EVENTS = "const events = __EVENTS__ || picked(bundle.inputData[__EVENTS_FIELD__]);"


def _source(body: str, args: tuple[str, ...] | None = None, **constants: Any) -> dict[str, Any]:
    values = {f"__{name.upper()}__": json.dumps(value) for name, value in constants.items()}
    missing = set(_PLACEHOLDER.findall(body)) - set(values)
    if missing:
        raise ValueError(f"no value for {', '.join(sorted(missing))} in a Zapier function body")
    function: dict[str, Any] = {"source": _PLACEHOLDER.sub(lambda m: values[m.group()], body)}
    if args is not None:
        function["args"] = list(args)
    return function


def before_request(url_label: str) -> dict[str, Any]:
    """A Connector URL typed without ``https://`` gets a hint about that field (core would
    say "Only HTTP(S) protocols are supported"); ``//`` in the path is collapsed, so a URL
    pasted with a trailing slash works."""
    return _source(
        "const typed = String((bundle.authData || {}).base_url || '').trim();"
        " if (typed && !/^https?:\\/\\//i.test(typed)) {"
        "  throw new z.errors.Error(`${__URL_LABEL__} must start with https://, like"
        " https://${typed.replace(/^[a-z][a-z0-9+.-]*:\\/+/i, '')}; reconnect the account with"
        " the full address of your connector server.`, 'invalid_connector_url', 400); }"
        " const m = /^([a-z][a-z0-9+.-]*:\\/\\/[^/?#]*)([^?#]*)(.*)$/i.exec(request.url || '');"
        " if (m) { request.url = m[1] + m[2].replace(/\\/{2,}/g, '/') + m[3]; }"
        " return request;",
        args=("request", "z", "bundle"),
        url_label=url_label,
    )


# call-outcome-unknown in Zapier's terms (the connector's detail speaks of Idempotency-Key).
OUTCOME_SAFE = (
    "Replaying this run is safe: in the Zap's history, replay it, and the connector looks the"
    " call up instead of calling again."
)
OUTCOME_UNSAFE = (
    "Check the call list in Retell before you replay this run, so nobody is called twice."
)


def after_response(labels: dict[str, str]) -> dict[str, Any]:
    """problem+json → one readable Zapier error: the detail, then each field error by the
    label the Zap editor shows with its key in brackets (``labels``: key → label)."""
    return _source(
        "if (response.status < 400 || response.skipThrowForStatus) { return response; }"
        " let problem = null;"
        " try { problem = JSON.parse(response.content); } catch (e) { problem = null; }"
        " if (!problem || typeof problem !== 'object' || !(problem.detail || problem.title)) {"
        "  throw new z.errors.Error(`The connector answered HTTP ${response.status}."
        " Check the Connector URL of this connection.`, `http_${response.status}`,"
        " response.status); }"
        " const labels = __LABELS__;"
        " const fields = (Array.isArray(problem.errors) ? problem.errors : []).map((e) => {"
        "  const path = String(e.path); const label = labels[path.split('.')[0]];"
        "  return label ? `${label} [${path}] ${e.message}` : `${path} ${e.message}`; });"
        " const code = String(problem.type || 'error').split('/').pop();"
        " let detail = String(problem.detail || problem.title).trim();"
        " if (code === 'call-outcome-unknown' && problem.cause) {"
        "  detail = `${problem.cause} ${problem.retry_safe ? __SAFE__ : __UNSAFE__}`; }"
        " const message = fields.length"
        " ? `${detail.replace(/\\.?$/, '.')} ${fields.join('; ')}.` : detail;"
        " throw new z.errors.Error(message, code, response.status);",
        args=("response", "z", "bundle"),
        labels=labels,
        safe=OUTCOME_SAFE,
        unsafe=OUTCOME_UNSAFE,
    )


def options_perform(path: str, parameters: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """A dynamic dropdown: the connector's ``[{value, label}]`` as Zapier's ``{id, name}``.

    ``parameters`` are a dependent dropdown's ``(query name, field key)`` pairs: Zapier hands
    the values already filled in the form to a dropdown's trigger in ``bundle.inputData``.
    """
    return _source(
        f"{_BASE} const params = {{}};"
        " for (const [name, field] of __PARAMETERS__) {"
        " const value = bundle.inputData[field];"
        " params[name] = value === undefined || value === null ? '' : String(value); }"
        " const response = await z.request({ url: base + __PATH__, params });"
        " return (response.data || []).map((o) => ({ id: o.value, name: o.label }));",
        path=path,
        parameters=[list(pair) for pair in parameters or []],
    )


def create_perform(
    *,
    method: str,
    path: str,
    action: str,
    fields: list[tuple[str, str, str]],
    key_header: str | None,
    key_field: str,
    path_fields: list[str] | None = None,
) -> dict[str, Any]:
    """Build the body from typed inputs and send it, with an idempotency key when the
    action takes one (``key_header``).

    ``fields`` is ``(key, kind, label)``; kind ``json-or-text`` is JSON when it parses and
    plain text otherwise (calling hours: ``anytime`` or an object). The key is the user's
    ``key_field`` when given, else ``zapier-`` + SHA-256 of the canonical JSON of
    ``[action, body]`` (see ``connector.platforms.zapier`` for why that is the stable
    choice). ``path_fields`` travel in the path (``{phone_number}``), URL-encoded, instead
    of the body; a body left empty is not sent.
    """
    return _source(
        f"{_BASE}"
        " const canon = (v) => Array.isArray(v) ? `[${v.map(canon).join(',')}]`"
        " : (v && typeof v === 'object') ? `{${Object.keys(v).sort()"
        ".map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}` : JSON.stringify(v);"
        " const body = {};"
        " for (const [key, kind, label] of __FIELDS__) {"
        "  let value = bundle.inputData[key];"
        "  if (value === undefined || value === null || value === '') continue;"
        "  if ((kind === 'json' || kind === 'json-or-text') && typeof value === 'string') {"
        "   try { value = JSON.parse(value); } catch (e) { if (kind === 'json-or-text') {"
        " value = value.trim(); } else {"
        "    throw new z.errors.Error(`${label}: not valid JSON (${e.message}).`,"
        " 'invalid_json', 400); } } }"
        "  if (kind === 'string-or-integer' && /^\\d+$/.test(String(value).trim())) {"
        " value = Number(String(value).trim()); }"
        "  if (kind === 'dict' && typeof value === 'object' && !Object.keys(value).length)"
        " continue;"
        "  body[key] = value; }"
        " const headers = {};"
        " if (__KEY_HEADER__) { let idempotencyKey = body[__KEY_FIELD__];"
        " delete body[__KEY_FIELD__];"
        " if (!idempotencyKey) { idempotencyKey = 'zapier-'"
        " + z.hash('sha256', canon([__ACTION__, body])).slice(0, 40); }"
        " headers[__KEY_HEADER__] = String(idempotencyKey); }"
        " let url = base + __PATH__;"
        " for (const [key, kind, label] of __FIELDS__) { if (!__PATH_FIELDS__.includes(key))"
        " continue; const value = String(body[key] === undefined ? '' : body[key]).trim();"
        " if (!value) { throw new z.errors.Error(`${label} is required.`, 'missing_field', 400); }"
        " url = url.replace(`{${key}}`, encodeURIComponent(value)); delete body[key]; }"
        " const request = { method: __METHOD__, url, headers };"
        " if (Object.keys(body).length || !['GET', 'DELETE'].includes(__METHOD__)) {"
        " request.body = body; }"
        " const response = await z.request(request);"
        " return response.data;",
        fields=[list(f) for f in fields],
        method=method,
        path=path,
        action=action,
        key_header=key_header,
        key_field=key_field,
        path_fields=path_fields or [],
    )


def search_perform(*, path: str, params: list[str]) -> dict[str, Any]:
    """One item or none: a 404 from the connector means "no such record", not an error."""
    return _source(
        f"{_BASE} {_STATUS_OF}"
        " const params = {}; for (const key of __PARAMS__) {"
        " const value = bundle.inputData[key];"
        " if (value !== undefined && value !== null && value !== '')"
        " params[key] = String(value).trim(); }"
        " try { const response = await z.request({ url: base + __PATH__, params });"
        " return [response.data]; }"
        " catch (err) { if (statusOf(err) === 404) { return []; } throw err; }",
        path=path,
        params=params,
    )


def subscribe(
    *, path: str, events: list[str] | None, events_field: str, filters: list[str]
) -> dict[str, Any]:
    """POST the subscription; keep its id (not its secret) as ``bundle.subscribeData``."""
    return _source(
        f"{_BASE} {_PICKED} {_EVENTS} {_FILTERS}"
        " const body = { target_url: bundle.targetUrl, ...filters };"
        " if (events.length) { body.events = events; }"
        " const response = await z.request({ method: 'POST', url: base + __PATH__, body });"
        " const { secret, ...subscription } = response.data || {};"
        " return subscription;",
        path=path,
        events=events,
        events_field=events_field,
        filters=filters,
    )


def unsubscribe(*, path: str) -> dict[str, Any]:
    """DELETE the subscription; one already gone (a 410 from Zapier removed it) is fine."""
    return _source(
        f"{_BASE} {_STATUS_OF}"
        " const id = String((bundle.subscribeData || {}).id || '');"
        " const url = base + __PATH__.replace('{id}', encodeURIComponent(id));"
        " try { const response = await z.request({ method: 'DELETE', url });"
        " return response.data; }"
        " catch (err) { if (statusOf(err) === 404) { return { id, deleted: true }; }"
        " throw err; }",
        path=path,
    )


def hook_perform() -> dict[str, Any]:
    """The delivered event as the one item (its body, whichever way Zapier wraps it)."""
    return _source(
        "let item = bundle.cleanedRequest;"
        " if (item && item.id === undefined && item.content && typeof item.content === 'object')"
        " { item = item.content; }"
        " return [item];"
    )


def perform_list(
    *,
    path: str,
    events: list[str] | None,
    events_field: str,
    filters: list[str],
    limit: int,
    sample_path: str,
    unpolled: list[str],
) -> dict[str, Any]:
    """Recent real events for the Zap editor, from the polling endpoint; from the sample
    endpoint when an event is picked that polling does not list (``unpolled``: connector
    events such as a queued call failing, which Retell's call list does not hold)."""
    return _source(
        f"{_BASE} {_PICKED} {_EVENTS} {_FILTERS}"
        " const params = { ...filters, limit: String(__LIMIT__) };"
        " if (events.length) { params.event = events.join(','); }"
        " const path = events.some((e) => __UNPOLLED__.includes(e)) ? __SAMPLE_PATH__ : __PATH__;"
        " const response = await z.request({ url: base + path, params });"
        " return response.data;",
        path=path,
        events=events,
        events_field=events_field,
        filters=filters,
        limit=limit,
        sample_path=sample_path,
        unpolled=unpolled,
    )
