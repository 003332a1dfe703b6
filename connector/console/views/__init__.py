"""The console's pages, one module per page; importing this package defines their routes."""

from __future__ import annotations

from connector.console import formats, masking
from connector.console.views import (
    auth,
    calls,
    campaigns,
    deliveries,
    overview,
    setup,
    subscriptions,
)
from connector.console.web import bp

__all__ = ["register"]

_PAGES = (auth, calls, campaigns, deliveries, overview, setup, subscriptions)

bp.add_app_template_filter(formats.when, "when")
bp.add_app_template_filter(formats.duration, "duration")
bp.add_app_template_filter(formats.percent, "percent")
bp.add_app_template_filter(masking.mask_phone, "mask_phone")
bp.add_app_template_filter(masking.mask_url, "mask_url")


def register() -> None:
    """Nothing left to do: the imports above defined every route (kept for a clear call site)."""
    assert _PAGES
