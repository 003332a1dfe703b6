"""Inbound calls over HTTP: Retell's inbound webhook, and the rules and contacts API.

``POST /v1/webhooks/retell/inbound`` is open like ``/v1/webhooks/retell`` and checked the
same way: the body read within the webhook limit, the ``x-retell-signature`` verified on the
raw bytes before anything is parsed. A bad signature is a 401 and never an answer; a body
that is not Retell's is a 400 naming the field. ``/v1/webhooks/retell`` hands
``call_inbound`` bodies here too (``answers_inbound``), so one URL can serve both.

``/v1/inbound/rules`` and ``/v1/inbound/contacts/<e164>`` are token-scoped: a token sees
and changes only its own rules and contacts.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify

from connector import jsontext
from connector.api.auth import protect
from connector.api.body import json_body
from connector.api.params import limit_arg
from connector.api.signed import retell_json, signed_retell_body
from connector.inbound.contacts import parse_contact, parse_contact_number
from connector.inbound.request import INBOUND_EVENT, parse_inbound
from connector.inbound.rules import parse_rule
from connector.inbound.service import InboundService
from connector.problems import NotFound
from connector.services import services

__all__ = ["answers_inbound", "bp", "inbound", "webhook_bp"]

log = logging.getLogger(__name__)


webhook_bp = Blueprint("inbound_webhook", __name__, url_prefix="/v1/webhooks")
bp = protect(Blueprint("inbound", __name__, url_prefix="/v1/inbound"))


def inbound() -> InboundService:
    """This app's inbound service."""
    return services().inbound


# --- Retell's inbound webhook --------------------------------------------------------


@webhook_bp.post("/retell/inbound")
def retell_inbound() -> Response:
    return answer_verified(signed_retell_body())


def answers_inbound(raw: bytes) -> bool:
    """Whether a verified call-event body is really an inbound call (``event: call_inbound``)."""
    if INBOUND_EVENT.encode() not in raw:
        return False
    try:
        body = jsontext.loads(raw)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("event") == INBOUND_EVENT


def answer_verified(raw: bytes) -> Response:
    """The answer to a signature-checked inbound call body."""
    answered = inbound().answer(parse_inbound(retell_json(raw)))
    if answered.deliveries:
        services().wake_delivery()
    log.info(
        "retell call_inbound %s: %s%s, %d deliveries",
        answered.event_id,
        "replayed" if answered.replayed else "answered",
        " (declined)" if answered.declined else "",
        answered.deliveries,
    )
    return Response(jsontext.dumps(answered.body), status=200, mimetype="application/json")


# --- rules ------------------------------------------------------------------------------


@bp.get("/rules")
def list_rules() -> dict[str, Any]:
    return {"items": [rule.public() for rule in inbound().rules.of_owner(g.token_scope)]}


@bp.post("/rules")
def create_rule() -> tuple[dict[str, Any], int]:
    rule = inbound().rules.create(g.token_scope, parse_rule(json_body()))
    return rule.public(), 201


@bp.get("/rules/<rule_id>")
def get_rule(rule_id: str) -> dict[str, Any]:
    rule = inbound().rules.get(g.token_scope, rule_id)
    if rule is None:
        raise NotFound(f"No inbound rule {rule_id!r}.")
    return rule.public()


@bp.put("/rules/<rule_id>")
def replace_rule(rule_id: str) -> dict[str, Any]:
    spec = parse_rule(json_body())
    rule = inbound().rules.replace(g.token_scope, rule_id, spec)
    if rule is None:
        raise NotFound(f"No inbound rule {rule_id!r}.")
    return rule.public()


@bp.delete("/rules/<rule_id>")
def delete_rule(rule_id: str) -> dict[str, Any]:
    if not inbound().rules.delete(g.token_scope, rule_id):
        raise NotFound(f"No inbound rule {rule_id!r}.")
    return {"id": rule_id, "deleted": True}


# --- saved caller context ---------------------------------------------------------------


@bp.put("/contacts/<phone_number>")
def save_contact(phone_number: str) -> tuple[dict[str, Any], int]:
    number = parse_contact_number(phone_number)
    context = parse_contact(json_body())
    contact, created = inbound().contacts.put(g.token_scope, number, context)
    return contact.public(), 201 if created else 200


@bp.get("/contacts/<phone_number>")
def get_contact(phone_number: str) -> dict[str, Any]:
    number = parse_contact_number(phone_number)
    contact = inbound().contacts.get(g.token_scope, number)
    if contact is None:
        raise NotFound("No caller context is saved for this number.")
    return contact.public()


@bp.delete("/contacts/<phone_number>")
def delete_contact(phone_number: str) -> dict[str, Any]:
    number = parse_contact_number(phone_number)
    if not inbound().contacts.delete(g.token_scope, number):
        raise NotFound("No caller context is saved for this number.")
    return {"phone_number": number, "deleted": True}


@bp.get("/contacts")
def list_contacts() -> Response:
    limit = limit_arg(default=100, maximum=1000)
    items = inbound().contacts.of_owner(g.token_scope, limit=limit)
    return jsonify({"items": [contact.public() for contact in items]})
