"""Paging the console's delivery log with 100,000 deliveries in the store.

Correctness only (each page is the next 50, newest first, however deep, with and without
filters); how long a page takes is measured in ``bench/``, never asserted here.
"""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from connector.tenancy import owner_of
from tests.conftest import TOKEN
from tests.console.test_console_store import seed

pytestmark = pytest.mark.slow

SEEDED = 100_000
OWNER = owner_of(TOKEN)


def listed(html: str) -> list[str]:
    return re.findall(r"/console/deliveries/(dlv_[0-9a-z_]+)\"", html)


def older_link(html: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="next"', html)
    return None if found is None else found.group(1).replace("&amp;", "&")


def test_paging_through_100000_deliveries(user: FlaskClient, engine: Engine) -> None:
    """The first page and pages after it are each the next 50; filters and a single
    delivery page work at this size too."""
    seed(engine, OWNER, "sub_bulk", SEEDED)
    expected = [f"dlv_{OWNER}_{i:06d}" for i in range(SEEDED)]
    page = user.get("/console/deliveries")
    assert page.status_code == 200
    assert listed(page.text) == expected[:50]
    link = older_link(page.text)
    for n in range(1, 4):
        assert link is not None
        page = user.get(link)
        assert listed(page.text) == expected[50 * n : 50 * (n + 1)]
        link = older_link(page.text)
    dead = user.get("/console/deliveries?state=dead")
    assert listed(dead.text) == [d for i, d in enumerate(expected) if i % 3 == 0][:50]
    one = user.get(f"/console/deliveries/{expected[SEEDED // 2]}")
    assert one.status_code == 200 and expected[SEEDED // 2] in one.text
    overview = user.get("/console/")
    assert overview.status_code == 200
    assert f">{len(range(0, SEEDED, 3))}<" in overview.text  # dead letters waiting
