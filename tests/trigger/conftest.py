"""Fixtures for the trigger: an app that may deliver to loopback, on a compressed schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from connector.app import create_app
from connector.retell.retry import RetryPolicy
from connector.services import Services
from tests.conftest import FakeRetell, make_settings

SCHEDULE = "0,0,0"  # four attempts, no waiting


@pytest.fixture
def app(tmp_path: Path, retell: FakeRetell, engine: Engine) -> Flask:
    settings = make_settings(
        tmp_path,
        connector_allow_private_targets=True,
        connector_retry_schedule=SCHEDULE,
        delivery_timeout_seconds=0.5,
    )
    return create_app(
        settings,
        engine=engine,
        retell_transport=retell.transport,
        retry=RetryPolicy.testing(),
        configure_logs=False,
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def svc(app: Flask) -> Services:
    found: Services = app.extensions["connector"]
    return found
