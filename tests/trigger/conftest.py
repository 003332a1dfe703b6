"""Fixtures for the trigger: an app that may deliver to loopback, on a compressed schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine

from tests.conftest import FakeRetell, build_app, make_settings

SCHEDULE = "0,0,0"  # four attempts, no waiting


@pytest.fixture
def app(tmp_path: Path, retell: FakeRetell, engine: Engine) -> Flask:
    settings = make_settings(
        tmp_path,
        connector_allow_private_targets=True,
        connector_retry_schedule=SCHEDULE,
        delivery_timeout_seconds=0.5,
    )
    return build_app(settings, retell, engine)
