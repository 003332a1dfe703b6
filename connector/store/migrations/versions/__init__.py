"""Revision files, applied in ``down_revision`` order (not imported as a package)."""
