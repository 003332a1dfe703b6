"""Inbound calls (issue 13): answer Retell's inbound-call webhook with the caller's context.

Retell asks, while the call rings, which agent takes it and with which dynamic variables
and metadata. The answer is assembled from three layers, later wins field by field:

1. the first matching **rule** (``rules``): by called number, caller prefix or country,
   weekday and local time window; a rule may also decline the call;
2. the **saved caller context** (``contacts``), kept current by a platform's
   "Save Caller Context" action, for platforms that cannot answer a webhook in time;
3. the answers of **responder** subscriptions (``responder``), for platforms that can.

``answer`` holds the merge and the checks that keep an invalid answer from reaching
Retell; ``request`` reads Retell's webhook body; ``events`` builds the ``call_inbound``
event that responders and ordinary subscribers receive; ``service`` runs it all against
the store. Everything but ``responder`` and ``service`` is pure logic.
"""
