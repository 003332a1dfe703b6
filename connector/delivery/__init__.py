"""Forwarding call events to subscribers: durable queue, signing, retries, SSRF guard."""
