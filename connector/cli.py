"""``retell-connector``: serve, sandbox, demo, export, check, mcp (DESIGN §7)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from connector.settings import SettingsError, load_settings

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    from connector.server import GunicornServer

    overrides = {}
    sandbox = None
    if args.sandbox:
        from connector.sandbox import SandboxConfig, SandboxServer

        local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        hook = f"http://{local}:{args.port}/v1/webhooks/retell"
        config = SandboxConfig(
            api_key="sandbox-key", webhook_url=hook, inbound_webhook_url=f"{hook}/inbound"
        )
        sandbox = SandboxServer(config).start()
        overrides = {
            "retell_api_key": "sandbox-key",
            "retell_base_url": sandbox.url,
            "sandbox": True,
        }
        print(f"Retell sandbox on {sandbox.url}, sending webhooks to {hook}", flush=True)
    settings = load_settings(**overrides)
    try:
        GunicornServer.for_connector(
            settings, host=args.host, port=args.port, workers=args.workers, threads=args.threads
        ).run()
    finally:
        if sandbox is not None:
            sandbox.close()
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from connector.sandbox import SandboxConfig, serve_sandbox

    config = SandboxConfig(
        api_key=args.api_key,
        webhook_url=args.webhook_url,
        inbound_webhook_url=args.inbound_webhook_url,
        ring_seconds=args.ring_seconds,
        talk_seconds=args.talk_seconds,
        concurrency_limit=args.concurrency_limit,
        concurrency_over_limit=args.concurrency_over_limit,
    )
    serve_sandbox(config, host=args.host, port=args.port)
    return 0


def _worker(_args: argparse.Namespace) -> int:
    import signal

    from connector.background import Runner
    from connector.campaigns.factory import build_dialer
    from connector.delivery.factory import build_worker
    from connector.logs import configure_logging
    from connector.store.engine import create_store_engine

    settings = load_settings()
    configure_logging(settings.connector_log_level, secrets=settings.secret_values())
    engine = create_store_engine(settings.connector_database_url)
    worker = build_worker(settings, engine)
    dialer = build_dialer(settings, engine, wake_delivery=worker.wake)
    loops = Runner({"delivery": worker, "dialer": dialer}).start()
    signal.signal(signal.SIGTERM, lambda *_: loops.request_stop())
    print(f"delivery worker and dialer {worker.name} running", flush=True)
    return 0 if loops.wait() else 1


def _demo(args: argparse.Namespace) -> int:
    from connector.demo import run_demo

    return run_demo(to_number=args.to_number)


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from connector.platforms import export, load_source

    source = load_source(args.base_url) if args.base_url else None
    for path in export(args.platform, Path(args.out), source=source):
        print(path)
    return 0


def _mcp(args: argparse.Namespace) -> int:
    from connector.logs import configure_logging
    from connector.mcp.stdio import run_stdio

    if not args.token:
        print(
            "error: give a connector API token: --token or RETELL_CONNECTOR_TOKEN", file=sys.stderr
        )
        return 2
    configure_logging("WARNING", secrets=[args.token])  # stderr: stdout carries the protocol
    return run_stdio(args.url, args.token)


def _check(_args: argparse.Namespace) -> int:
    from connector.manifest import check

    problems = check()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("manifest.json and schemas/ are valid")
    return 1 if problems else 0


def _at_least(minimum: float, kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` no smaller than ``minimum``."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retell-connector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the connector under gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument("--threads", type=int, default=64, help="threads per worker")
    serve.add_argument("--sandbox", action="store_true", help="also start the Retell sandbox")
    serve.set_defaults(func=_serve)

    sandbox = commands.add_parser("sandbox", help="run the Retell simulator alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)
    sandbox.add_argument("--webhook-url", default=None)
    sandbox.add_argument(
        "--inbound-webhook-url",
        default=None,
        help="the numbers' inbound webhook, asked by simulated inbound calls",
    )
    sandbox.add_argument("--api-key", default="sandbox-key")
    sandbox.add_argument(
        "--concurrency-limit",
        type=_at_least(0, int),
        default=20,
        help="calls in progress at once (Retell's pay-as-you-go default: 20)",
    )
    sandbox.add_argument(
        "--concurrency-over-limit",
        choices=["end", "429"],
        default="end",
        help="a call over the limit: end it with concurrency_limit_reached, or answer 429",
    )
    sandbox.add_argument(
        "--ring-seconds", type=_at_least(0, float), default=1.0, help="ringing before pick-up"
    )
    sandbox.add_argument(
        "--talk-seconds", type=_at_least(0, float), default=3.0, help="length of a conversation"
    )
    sandbox.set_defaults(func=_sandbox)

    worker = commands.add_parser("worker", help="run the delivery worker and dialer alone")
    worker.set_defaults(func=_worker)

    demo = commands.add_parser("demo", help="sandbox + connector: place a call, show it")
    demo.add_argument("--to-number", default="+14155550123")
    demo.set_defaults(func=_demo)

    export = commands.add_parser("export", help="write a platform's artefact from the manifest")
    export.add_argument(
        "platform", choices=["zapier", "n8n", "make", "power-automate", "openapi", "mcp", "all"]
    )
    export.add_argument("--out", required=True, help="output directory")
    export.add_argument("--base-url", default=None, help="the connector's public URL")
    export.set_defaults(func=_export)

    mcp = commands.add_parser("mcp", help="the actions as MCP tools over stdio (assistants)")
    mcp.add_argument("--url", required=True, help="the connector's URL, such as https://…")
    mcp.add_argument(
        "--token",
        default=os.environ.get("RETELL_CONNECTOR_TOKEN"),
        help="a connector API token (default: the RETELL_CONNECTOR_TOKEN environment variable)",
    )
    mcp.set_defaults(func=_mcp)

    check = commands.add_parser("check", help="validate manifest.json and schemas/")
    check.set_defaults(func=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
