"""The after-the-call fields Retell fills in: transcripts, latency, cost, tokens, analysis.

Numbers are pseudo-random but seeded by the call id, so one call always reads the same.
Word timings are spread over the call's real (sandbox-clock) duration, so they always fit
inside ``duration_ms``.
"""

from __future__ import annotations

import random
from typing import Any

from connector.sandbox.conversations import ANALYSIS, DEFAULT_COMPANY, Turn, caller_name
from connector.sandbox.scripts import Script

__all__ = ["analysis", "costs", "transcript_fields"]

# cents per second, roughly Retell's list prices
_PRODUCTS = (("retell_voice_engine", 0.1167), ("gpt_4_1_mini", 0.0075), ("retell_telephony", 0.025))


def transcript_fields(
    turns: list[Turn], duration_s: float, upto: int | None = None
) -> dict[str, Any]:
    """``transcript``, ``transcript_object`` and ``transcript_with_tool_calls`` for the first
    ``upto`` turns (all by default), timed as if spread over ``duration_s`` seconds."""
    words_total = sum(len(t.text.split()) for t in turns) + 2 * len(turns) + 1
    unit = max(duration_s, 0.001) / words_total
    clock, objects, woven = unit, [], []
    for index, turn in enumerate(turns[:upto]):
        words = []
        for word in turn.text.split():
            words.append(
                {"word": word, "start": round(clock, 4), "end": round(clock + 0.8 * unit, 4)}
            )
            clock += unit
        clock += 2 * unit
        utterance = {"role": turn.role, "content": turn.text, "words": words}
        objects.append(utterance)
        if turn.tool is not None:
            tool_call_id = f"tool_call_{index:02d}"
            woven += [turn.tool.invocation(tool_call_id), turn.tool.outcome(tool_call_id)]
        woven.append(utterance)
    text = "\n".join(f"{t.role.capitalize()}: {t.text}" for t in turns[:upto])
    return {"transcript": text, "transcript_object": objects, "transcript_with_tool_calls": woven}


def _stats(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "p50": pct(0.5),
        "p90": pct(0.9),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": ordered[-1],
        "min": ordered[0],
        "num": len(ordered),
        "values": values,
    }


def costs(call_id: str, duration_ms: int, turns: list[Turn]) -> dict[str, Any]:
    """``latency``, ``call_cost`` and ``llm_token_usage`` for a call of ``duration_ms``."""
    rng = random.Random(call_id)
    seconds = round(duration_ms / 1000, 3)
    product_costs: list[dict[str, Any]] = [
        {"product": name, "unit_price": price, "cost": round(price * seconds, 4)}
        for name, price in (_PRODUCTS if seconds else ())
    ]
    fields: dict[str, Any] = {
        "call_cost": {
            "product_costs": product_costs,
            "combined_cost": round(sum(float(p["cost"]) for p in product_costs), 4),
            "total_duration_seconds": seconds,
            "total_duration_unit_price": round(sum(p for _, p in _PRODUCTS), 4) if seconds else 0.0,
        }
    }
    replies = sum(1 for t in turns if t.role == "agent")
    if not replies:
        return fields
    spans = {"e2e": (650, 1400), "llm": (320, 780), "tts": (140, 330)}
    fields["latency"] = {
        name: _stats([float(rng.randint(lo, hi)) for _ in range(replies)])
        for name, (lo, hi) in spans.items()
    }
    tokens = [float(rng.randint(900, 2400)) for _ in range(replies)]
    fields["llm_token_usage"] = {
        "values": tokens,
        "average": round(sum(tokens) / replies, 1),
        "num_requests": replies,
    }
    return fields


def analysis(script: Script, variables: dict[str, str]) -> dict[str, Any]:
    """``call_analysis`` as Retell's post-call analysis would fill it for ``script``."""
    kind = script.conversation or script.disconnection_reason
    template, custom = ANALYSIS[kind]
    name = caller_name(variables) or "the customer"
    company = variables.get("company_name", "").strip() or DEFAULT_COMPANY
    return {
        "call_summary": template.format(name=name, company=company),
        "user_sentiment": script.user_sentiment,
        "call_successful": script.call_successful,
        "in_voicemail": script.in_voicemail,
        "custom_analysis_data": dict(custom),
    }
