"""The Retell endpoints the connector uses, with Retell's paths, shapes and status codes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from connector.sandbox.catalog import (
    AGENTS,
    ORG,
    PHONE_NUMBERS,
    Agent,
    AgentVersion,
    PhoneNumber,
    agent_by_id,
)
from connector.sandbox.errors import ApiError
from connector.sandbox.filters import check_condition, compile_filters, match
from connector.sandbox.pagination import paginate, parse_limit
from connector.sandbox.state import current_sandbox
from connector.sandbox.validation import parse_create

__all__ = ["bp"]

bp = Blueprint("retell_api", __name__)

FREE_CONCURRENCY = 20  # Retell's pay-as-you-go base concurrency
PURCHASE_LIMIT = 100  # how much more concurrency an account may buy

# v3 list-calls leaves these out; clients fetch them with get-call.
_LIST_OMITS = ("transcript", "transcript_object", "transcript_with_tool_calls")


def _json_object() -> dict[str, Any]:
    """The request's JSON object body; an empty body counts as ``{}``."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError.bad_request()
    return body


def _descending(raw: object) -> bool:
    """Retell's ``sort_order``; descending unless asked otherwise."""
    if raw in (None, "descending"):
        return True
    if raw == "ascending":
        return False
    raise ApiError.bad_request("sort_order must be ascending or descending.")


@bp.post("/v2/create-phone-call")
def create_phone_call() -> tuple[dict[str, Any], int]:
    """Place a call (201), or return the one placed with the same idempotency_key."""
    sandbox = current_sandbox()
    call, created = sandbox.lifecycle.place(parse_create(_json_object()))
    sandbox.stats.incr("calls_created" if created else "idempotent_replays")
    return call, 201


@bp.get("/v2/get-call/<call_id>")
def get_call(call_id: str) -> dict[str, Any]:
    """The call object in its current state; 422 when unknown, as Retell does."""
    call = current_sandbox().book.view(call_id)
    if call is None:
        raise ApiError(422)
    return call


@bp.post("/v3/list-calls")
def list_calls() -> dict[str, Any]:
    """Filtered, sorted, cursor-paginated calls without their transcripts."""
    body = _json_object()
    limit, descending = parse_limit(body.get("limit")), _descending(body.get("sort_order"))
    skip = body.get("skip", 0)
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise ApiError.bad_request("skip must be a non-negative integer.")
    matches = compile_filters(body.get("filter_criteria"))
    # Creation order is start order here: every call rings for the same ring_seconds.
    calls = [c for c in current_sandbox().book.views() if matches(c[1])]
    calls = (calls[::-1] if descending else calls)[skip:]
    page = paginate(
        calls,
        lambda c: c[0],
        limit=limit,
        pagination_key=body.get("pagination_key"),
        descending=descending,
    )
    out = page.body(lambda c: {k: v for k, v in c[1].items() if k not in _LIST_OMITS})
    if body.get("include_total") is True:
        out["total"] = len(calls) + skip
    return out


def _query_page(items: tuple[Any, ...], render: Any) -> dict[str, Any]:
    """Paginate a catalog list (kept newest first) by the query string's parameters."""
    descending = _descending(request.args.get("sort_order"))
    ordered = list(enumerate(items))
    if not descending:
        ordered.reverse()
    page = paginate(
        ordered,
        lambda pair: -pair[0],
        limit=parse_limit(request.args.get("limit")),
        pagination_key=request.args.get("pagination_key"),
        descending=descending,
    )
    return page.body(lambda pair: render(pair[1]))


@bp.get("/v2/list-phone-numbers")
def list_phone_numbers() -> dict[str, Any]:
    """The account's numbers, Sales line first."""
    return _query_page(PHONE_NUMBERS, PhoneNumber.as_json)


# list-agents' filter_criteria keys and the condition type each takes (the SDKs' own).
_AGENT_FILTERS = {"channel": frozenset({"string"}), "is_transfer_agent": frozenset({"boolean"})}


@bp.post("/v2/list-agents")
def list_agents() -> dict[str, Any]:
    """The account's agents, one item per agent; paging in the query, filters in the body."""
    criteria = _json_object().get("filter_criteria") or {}
    if not isinstance(criteria, dict):
        raise ApiError.bad_request("filter_criteria must be an object.")
    unknown = set(criteria) - {"query", *_AGENT_FILTERS}
    if unknown:
        raise ApiError.bad_request(f"filter_criteria.{min(unknown)} is not supported.")
    query = criteria.get("query") or ""
    if not isinstance(query, str):
        raise ApiError.bad_request("filter_criteria.query must be a string.")
    tests = {k: criteria[k] for k in _AGENT_FILTERS if k in criteria}
    for key, cond in tests.items():
        check_condition(cond, key, _AGENT_FILTERS[key])

    def keep(agent: Agent) -> bool:
        found = query.lower() in agent.agent_name.lower() or query in agent.agent_id
        fields = {"channel": agent.channel, "is_transfer_agent": False}
        return found and all(match(cond, fields[k]) for k, cond in tests.items())

    return _query_page(tuple(a for a in AGENTS if keep(a)), Agent.as_json)


@bp.get("/list-agent-versions/<agent_id>")
def list_agent_versions(agent_id: str) -> dict[str, Any]:
    """An agent's stored versions, newest first by default; 422 for an unknown agent."""
    agent = agent_by_id(agent_id)
    if agent is None:
        raise ApiError(422)
    return _query_page(agent.versions()[::-1], AgentVersion.as_json)


@bp.get("/get-api-key-info")
def api_key_info() -> dict[str, Any]:
    """Who the key belongs to: Retell's cheapest auth test."""
    return dict(ORG)


@bp.get("/get-concurrency")
def concurrency() -> dict[str, Any]:
    """The account's true figures: calls in progress now against the configured limit.

    Exactly the fields the SDKs' ``ConcurrencyRetrieveResponse`` declares. The limit is
    Retell's free base (20) plus whatever more is configured, counted as purchased.
    """
    sandbox = current_sandbox()
    config = sandbox.config
    limit = config.concurrency_limit
    base = min(limit, FREE_CONCURRENCY)
    purchased = limit - base
    purchase_limit = max(PURCHASE_LIMIT, purchased)
    return {
        "current_concurrency": sandbox.concurrency.current(),
        "concurrency_limit": limit,
        "base_concurrency": base,
        "purchased_concurrency": purchased,
        "concurrency_purchase_limit": purchase_limit,
        "remaining_purchase_limit": purchase_limit - purchased,
        "concurrency_burst_enabled": False,
        "concurrency_burst_limit": 0,
        "reserved_inbound_concurrency": config.reserved_inbound_concurrency,
    }
