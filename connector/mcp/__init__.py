"""The connector's actions as MCP tools (issue 14), on the official ``mcp`` SDK.

The tools are generated from the manifest (``catalog``): each action is a tool whose input
schema is the action's own schema, and a small table adds the dropdown lists and the recent
call events. A tool call is the action's HTTP request to the connector (``remote``), so a tool
gets exactly the action's validation, idempotency and tenancy, and the two transports share
one code path: ``retell-connector mcp`` (stdio) sends it over the network to a remote
connector, the ``/mcp`` endpoint of ``serve`` hands it to its own app in-process.
"""
