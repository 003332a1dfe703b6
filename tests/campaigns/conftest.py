"""Fixtures for campaigns: an app on both stores with a scripted Retell, and a clock to set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine

from tests.conftest import Clock, FakeRetell, build_app, make_settings

OTHER_TOKEN = "other-token-0123456789abcdef"
SALES_LINE = "+14157774444"


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC).timestamp())


@pytest.fixture
def app(tmp_path: Path, retell: FakeRetell, engine: Engine) -> Flask:
    settings = make_settings(
        tmp_path,
        connector_api_tokens=f"test-token-0123456789abcdef,{OTHER_TOKEN}",
        connector_allow_private_targets=True,
        connector_retry_schedule="0,0,0",
        delivery_timeout_seconds=0.5,
    )
    return build_app(settings, retell, engine)
