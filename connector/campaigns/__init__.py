"""Campaigns: queue bursts of calls, dial them at Retell's concurrency limit, in calling hours.

A package of small modules, one concept each (calling windows, the queue, capacity, the dialer).
"""
