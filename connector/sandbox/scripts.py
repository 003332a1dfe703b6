"""What happens to a call, chosen by the last four digits of its ``to_number``.

=======  ========================  =============  ====================  =======================
ends in  outcome                   call_status    disconnection_reason  webhooks
=======  ========================  =============  ====================  =======================
0001     no answer                 not_connected  dial_no_answer        ended, analyzed
0002     busy                      not_connected  dial_busy             ended, analyzed
0003     voicemail                 ended          voicemail_reached     started, ended, analyzed
0004     dial failed               error          dial_failed           ended, analyzed
0005     answered, not interested  ended          user_hangup           started, ended, analyzed
0009     on the internal DNC list  400 if ``honor_internal_dnc`` is true, else as "other"
other    answered, books a demo    ended          agent_hangup          started, ended, analyzed
=======  ========================  =============  ====================  =======================

Analysis: 0001/0002/0004 Unknown sentiment, unsuccessful; 0003 Neutral, in_voicemail true;
0005 Negative, unsuccessful; other Positive, successful, ``custom_analysis_data`` filled.

Never-connected calls get no ``call_started`` but do get ``call_ended`` and ``call_analyzed``,
as Retell documents. ``markdown_table()`` renders the same rows for the README.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANSWERED", "DNC_SUFFIX", "INBOUND", "SCRIPTS", "Script", "markdown_table", "script_for"]

DNC_SUFFIX = "0009"


@dataclass(frozen=True)
class Script:
    """One scripted outcome and the analysis Retell would produce for it."""

    suffix: str | None
    outcome: str
    call_status: str
    disconnection_reason: str
    conversation: str | None
    """Which canned conversation is spoken (see ``content``); None: the call never connects."""
    user_sentiment: str
    call_successful: bool
    in_voicemail: bool = False

    @property
    def connects(self) -> bool:
        """Whether the callee (or their voicemail) picks up, so ``call_started`` is sent."""
        return self.conversation is not None

    @property
    def events(self) -> tuple[str, ...]:
        """The default webhook events, in order."""
        start = ("call_started",) if self.connects else ()
        return (*start, "call_ended", "call_analyzed")


ANSWERED = Script(
    None, "answered, books a demo", "ended", "agent_hangup", "booking", "Positive", True
)

INBOUND = Script(
    None, "inbound, caller helped", "ended", "user_hangup", "inbound", "Positive", True
)
"""A simulated inbound call (``connector.sandbox.inbound``); never chosen by a number."""

SCRIPTS: tuple[Script, ...] = (
    Script("0001", "no answer", "not_connected", "dial_no_answer", None, "Unknown", False),
    Script("0002", "busy", "not_connected", "dial_busy", None, "Unknown", False),
    Script("0003", "voicemail", "ended", "voicemail_reached", "voicemail", "Neutral", False, True),
    Script("0004", "dial failed", "error", "dial_failed", None, "Unknown", False),
    Script(
        "0005", "answered, not interested", "ended", "user_hangup", "declined", "Negative", False
    ),
)


def script_for(to_number: str) -> Script:
    """The script for ``to_number``; anything unlisted is answered."""
    return next((s for s in SCRIPTS if to_number.endswith(s.suffix or "")), ANSWERED)


def markdown_table() -> str:
    """The outcome table as Markdown, for README.md (a test keeps the two in step)."""
    head = (
        "| `to_number` ends in | outcome | `call_status` | `disconnection_reason` | webhooks "
        "| `call_analysis` |\n|---|---|---|---|---|---|"
    )
    rows = [head]
    for s in (*SCRIPTS, ANSWERED):
        suffix = f"`{s.suffix}`" if s.suffix else "anything else"
        analysis = f"{s.user_sentiment}, successful={str(s.call_successful).lower()}"
        if s.in_voicemail:
            analysis += ", in_voicemail=true"
        events = ", ".join(f"`{e}`" for e in s.events)
        rows.append(
            f"| {suffix} | {s.outcome} | `{s.call_status}` | `{s.disconnection_reason}` "
            f"| {events} | {analysis} |"
        )
    rows.append(
        f"| `{DNC_SUFFIX}` | on the internal do-not-call list | 400 when "
        "`honor_internal_dnc` is true (no call); otherwise as *anything else* | | | |"
    )
    return "\n".join(rows)
