"""The rules and contacts API: CRUD, token scope, and problem+json naming bad fields."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from connector import manifest
from connector.manifest import schema_validator
from tests.inbound.conftest import AUTH, CALLER, OTHER, SALES_LINE

RULE = {
    "name": "Business hours → Sales",
    "match": {"to_numbers": [SALES_LINE], "window": {"start": "09:00", "end": "17:00"}},
    "override_agent_id": "agent_sales",
    "dynamic_variables": {"department": "sales"},
}


def valid(schema: str, instance: object) -> bool:
    """Whether ``instance`` is valid against ``file.json`` or ``file.json#/$defs/name``."""
    name, _, pointer = schema.partition("#")
    if not pointer:
        return schema_validator(name).is_valid(instance)
    wrapper = {"$id": manifest.SCHEMA_BASE_URI + "t.json", "$ref": f"{name}#{pointer}"}
    return Draft202012Validator(wrapper, registry=manifest.registry()).is_valid(instance)


def create(client: FlaskClient, body: dict[str, Any], headers: dict[str, str] = AUTH) -> Any:
    response = client.post("/v1/inbound/rules", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_rule_lifecycle(client: FlaskClient) -> None:
    """Create, read, list, replace and delete a rule; every answer matches its schema."""
    created = create(client, RULE)
    assert valid("inbound-rule.json", created)
    assert created["position"] == 10 and created["decline"] is False
    rule_id = created["id"]
    assert client.get(f"/v1/inbound/rules/{rule_id}", headers=AUTH).json == created
    replaced = client.put(
        f"/v1/inbound/rules/{rule_id}", json={"decline": True, "position": 5}, headers=AUTH
    )
    assert replaced.status_code == 200 and valid("inbound-rule.json", replaced.json)
    assert (replaced.json["decline"], replaced.json["position"]) == (True, 5)
    assert "override_agent_id" not in replaced.json
    listed = client.get("/v1/inbound/rules", headers=AUTH).json
    assert valid("inbound-rule.json#/$defs/list", listed)
    assert [r["id"] for r in listed["items"]] == [rule_id]
    gone = client.delete(f"/v1/inbound/rules/{rule_id}", headers=AUTH)
    assert gone.json == {"id": rule_id, "deleted": True}
    assert valid("inbound-rule.json#/$defs/deleted", gone.json)
    assert client.get(f"/v1/inbound/rules/{rule_id}", headers=AUTH).status_code == 404


def test_rules_listed_in_the_order_they_are_tried(client: FlaskClient) -> None:
    """New rules go last (position +10); an explicit position puts a rule first."""
    first, second = create(client, {"name": "a"}), create(client, {"name": "b"})
    top = create(client, {"name": "c", "position": 0})
    assert (first["position"], second["position"]) == (10, 20)
    listed = client.get("/v1/inbound/rules", headers=AUTH).json["items"]
    assert [r["id"] for r in listed] == [top["id"], first["id"], second["id"]]


def test_rules_belong_to_their_token(client: FlaskClient) -> None:
    """Another token neither sees nor changes a rule."""
    rule_id = create(client, RULE)["id"]
    assert client.get("/v1/inbound/rules", headers=OTHER).json == {"items": []}
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(
            f"/v1/inbound/rules/{rule_id}", json={"name": "x"}, headers=OTHER
        )
        assert response.status_code == 404, method
    assert client.get(f"/v1/inbound/rules/{rule_id}", headers=AUTH).json["name"] == RULE["name"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/inbound/rules"),
        ("post", "/v1/inbound/rules"),
        ("put", f"/v1/inbound/contacts/{CALLER}"),
        ("get", f"/v1/inbound/contacts/{CALLER}"),
        ("delete", f"/v1/inbound/contacts/{CALLER}"),
    ],
)
def test_token_required(client: FlaskClient, method: str, path: str) -> None:
    """Rules and contacts need a bearer token."""
    response = getattr(client, method)(path, json={})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"match": {"to_numbers": ["not a number"]}}, ["match.to_numbers.0"]),
        ({"decline": "maybe"}, ["decline"]),
        ({"dynamic_variables": {"x": {"y": 1}}}, ["dynamic_variables.x"]),
        ([1, 2], ["body"]),
    ],
)
def test_bad_rule_is_a_problem_naming_fields(
    client: FlaskClient, body: object, paths: list[str]
) -> None:
    """A bad rule is a 422 problem+json naming each field, and nothing is stored."""
    response = client.post("/v1/inbound/rules", json=body, headers=AUTH)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert [e["path"] for e in response.json["errors"]] == paths
    assert client.get("/v1/inbound/rules", headers=AUTH).json == {"items": []}


def test_malformed_rule_body_is_a_400(client: FlaskClient) -> None:
    """A body that is not JSON is a 400 naming the body."""
    response = client.post(
        "/v1/inbound/rules", data="{", headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json["errors"][0]["path"] == "body"


def test_contact_lifecycle(client: FlaskClient) -> None:
    """Save (201, then 200 replacing), read and delete a caller's context."""
    path = "/v1/inbound/contacts/+1 415 555 0142"
    body = {"dynamic_variables": {"first_name": "Ada", "orders": 3}, "metadata": {"crm": "c-1"}}
    saved = client.put(path, json=body, headers=AUTH)
    assert saved.status_code == 201 and valid("inbound-contact.json", saved.json)
    assert saved.json["phone_number"] == CALLER
    assert saved.json["dynamic_variables"] == {"first_name": "Ada", "orders": "3"}
    again = client.put(path, json={"dynamic_variables": {"first_name": "Ada L."}}, headers=AUTH)
    assert again.status_code == 200
    assert again.json["metadata"] is None and again.json["created_at"] == saved.json["created_at"]
    assert client.get(f"/v1/inbound/contacts/{CALLER}", headers=AUTH).json == again.json
    listed = client.get("/v1/inbound/contacts", headers=AUTH).json
    assert listed == {"items": [again.json]} and valid("inbound-contact.json#/$defs/list", listed)
    gone = client.delete(f"/v1/inbound/contacts/{CALLER}", headers=AUTH)
    assert gone.json == {"phone_number": CALLER, "deleted": True}
    assert valid("inbound-contact.json#/$defs/deleted", gone.json)
    assert client.get(f"/v1/inbound/contacts/{CALLER}", headers=AUTH).status_code == 404


def test_contacts_belong_to_their_token(client: FlaskClient) -> None:
    """Another token's save makes its own copy; it cannot read or delete this one."""
    path = f"/v1/inbound/contacts/{CALLER}"
    client.put(path, json={"dynamic_variables": {"first_name": "Ada"}}, headers=AUTH)
    assert client.get(path, headers=OTHER).status_code == 404
    assert client.delete(path, headers=OTHER).status_code == 404
    assert client.get(path, headers=AUTH).json["dynamic_variables"] == {"first_name": "Ada"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/inbound/contacts/4155550142", {}, "phone_number"),
        ("/v1/inbound/contacts/+1415555", {}, "phone_number"),
        (f"/v1/inbound/contacts/{CALLER}", {"first_name": "Ada"}, "first_name"),
        (f"/v1/inbound/contacts/{CALLER}", {"dynamic_variables": "Ada"}, "dynamic_variables"),
        (f"/v1/inbound/contacts/{CALLER}", {"override_agent_id": ""}, "override_agent_id"),
    ],
)
def test_bad_contact_is_a_problem_naming_fields(
    client: FlaskClient, path: str, body: dict[str, Any], field: str
) -> None:
    """A bad number or context is a 422 naming the field, and nothing is saved."""
    response = client.put(path, json=body, headers=AUTH)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert [e["path"] for e in response.json["errors"]] == [field]
    assert client.get("/v1/inbound/contacts", headers=AUTH).json == {"items": []}


def test_trigger_sample_offers_a_built_in_inbound_event(client: FlaskClient) -> None:
    """The trigger's sample for call_inbound is a valid inbound event with fictional numbers,
    never a stored one (it could carry another token's saved caller context)."""
    response = client.get("/v1/triggers/call-events/sample?event=call_inbound", headers=AUTH)
    assert response.status_code == 200
    (item,) = response.json
    assert valid("inbound-event.json", item)
    assert item["flat"]["from_number"].startswith("+141555501")
    mixed = client.get(
        "/v1/triggers/call-events/sample?event=call_analyzed,call_inbound", headers=AUTH
    ).json
    assert [e["event"] for e in mixed] == ["call_analyzed", "call_inbound"]


def test_inbound_events_are_not_polled(client: FlaskClient) -> None:
    """Polling lists Retell's calls; call_inbound is for subscriptions, so it is refused."""
    response = client.get("/v1/triggers/call-events?event=call_inbound", headers=AUTH)
    assert response.status_code == 422
    assert response.json["errors"][0]["path"] == "event"
