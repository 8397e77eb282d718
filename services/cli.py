"""The ``gridcare`` command: run the API, the worker, migrations, the contract, the dev stack."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from services.core.config import Settings, get_settings

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "openapi.json"
EVENTS = CONTRACT.parent / "events"


def api_workers(configured: int) -> int:
    """How many API processes: as configured, else one per CPU core this process may run on."""
    if configured > 0:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _multiprocess_metrics(settings: Settings) -> None:
    """Several API processes behind one port each count their own requests: prometheus-client's
    multiprocess mode has them write to one directory that ``/metrics`` merges (``core.metrics``).
    The directory is emptied at start, so no dead process's counts are carried into this run."""
    directory = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.data_dir / "metrics-api").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)  # before any worker imports prometheus-client


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    workers = args.workers if args.workers is not None else api_workers(settings.api_workers)
    if workers > 1:
        _multiprocess_metrics(settings)
    print(f"gridcare api: {workers} process(es) on {settings.host}:{settings.port}", file=sys.stderr)  # noqa: T201
    uvicorn.run(
        "services.api.main:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        # Longer than a load balancer's idle timeout (60 s is common) and a phone's pause between syncs, so
        # the server does not close a kept-alive connection just as a client sends on it.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_worker(_: argparse.Namespace) -> int:
    from services.core.logging import configure
    from services.worker.run import run_forever

    settings = get_settings()
    configure(settings.log_level)
    return run_forever(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    from services.core.system.migrate import migrate

    url = get_settings().database_url
    if not url:
        print("GRIDCARE_DATABASE_URL is not set", file=sys.stderr)  # noqa: T201
        return 2
    migrate(url, args.revision, down=args.down)
    return 0


def openapi_document() -> str:
    """The contract as committed: sorted keys, two-space indent, trailing newline."""
    from services.api.app import create_app
    from services.core.config import Settings

    app = create_app(Settings(env="test", token_signing_key="contract", pii_keys="{}", pii_blind_index_key="x"))  # noqa: S106
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def event_documents() -> dict[str, str]:
    """``contracts/events/<type>.json``: each webhook event's JSON Schema, as committed."""
    from services.core.referrals import events as _referral_events  # noqa: F401 - registers the referral.* types
    from services.core.webhooks.events import json_schemas

    return {
        f"{event_type}.json": json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for event_type, schema in json_schemas().items()
    }


def cmd_openapi(args: argparse.Namespace) -> int:
    document = openapi_document()
    events = event_documents()
    if args.check:
        if not CONTRACT.exists() or CONTRACT.read_text(encoding="utf-8") != document:
            print(f"{CONTRACT} differs from the app: run `make contract`", file=sys.stderr)  # noqa: T201
            return 1
        committed = {p.name: p.read_text(encoding="utf-8") for p in EVENTS.glob("*.json")} if EVENTS.exists() else {}
        if committed != events:
            print(f"{EVENTS} differs from the event models: run `make contract`", file=sys.stderr)  # noqa: T201
            return 1
        return 0
    CONTRACT.parent.mkdir(parents=True, exist_ok=True)
    CONTRACT.write_text(document, encoding="utf-8")
    EVENTS.mkdir(parents=True, exist_ok=True)
    for stale in EVENTS.glob("*.json"):
        if stale.name not in events:
            stale.unlink()
    for name, text in events.items():
        (EVENTS / name).write_text(text, encoding="utf-8")
    print(f"wrote {CONTRACT} and {len(events)} event schemas in {EVENTS}")  # noqa: T201
    return 0


def cmd_webhook_receiver(args: argparse.Namespace) -> int:
    """Print verified webhook deliveries until interrupted."""
    import os

    from services.core.webhooks.receiver import serve

    secrets = args.secret or [s for s in os.environ.get("GRIDCARE_WEBHOOK_SECRET", "").split() if s]
    if not secrets:
        print("give --secret whsec_... (or GRIDCARE_WEBHOOK_SECRET)", file=sys.stderr)  # noqa: T201
        return 2
    server = serve(args.host, args.port, secrets, status=args.status, out=lambda line: print(line, flush=True))  # noqa: T201
    host, port = server.server_address[:2]
    print(f"listening on http://{host!s}:{port}/ ; Ctrl-C stops", flush=True)  # noqa: T201
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_init_district(args: argparse.Namespace) -> int:
    """Production bootstrap: a district and its first administrator."""
    from services.core.accounts import users
    from services.core.accounts.schemas import GrantCreate, UserCreate
    from services.core.db import make_engine, make_session_factory, session_scope
    from services.core.org import service as org_service
    from services.core.security.roles import Role

    settings = get_settings()

    async def go() -> None:
        engine = make_engine(settings.database_url or "", null_pool=True)
        async with session_scope(make_session_factory(engine)) as db:
            district = await org_service.create_district(db, code=args.code, name=args.name)
            await users.create_user(
                db,
                None,
                UserCreate(
                    username=args.admin_username,
                    display_name=args.admin_name,
                    secret=args.admin_password,
                    org_unit_id=district.id,
                    grants=[GrantCreate(role=Role.DISTRICT_ADMIN, org_unit_id=district.id)],
                ),
            )
        await engine.dispose()

    asyncio.run(go())
    print(f"district {args.code} ready; administrator {args.admin_username}")  # noqa: T201
    return 0


def cmd_rotate_pii_keys(args: argparse.Namespace) -> int:
    """Re-encrypt protected fields under the newest key in GRIDCARE_PII_KEYS (safe to interrupt and re-run)."""
    import services.core.models  # noqa: F401 - every model module declares its sealed columns
    from services.core.db import make_engine, make_session_factory, session_scope
    from services.core.security.pii import cipher_for
    from services.core.security.rotation import rotate, versions_in_use

    settings = get_settings()
    if not settings.database_url:
        print("GRIDCARE_DATABASE_URL is not set", file=sys.stderr)  # noqa: T201
        return 2

    async def go() -> None:
        engine = make_engine(settings.database_url or "", null_pool=True)
        factory = make_session_factory(engine)
        report = await rotate(factory, cipher_for(settings), batch_size=args.batch_size)
        async with session_scope(factory) as db:
            in_use = await versions_in_use(db)
        await engine.dispose()
        print(  # noqa: T201
            f"rows under an older key {report.scanned}, values re-encrypted {report.rewritten}, "
            f"left to a re-run (changed meanwhile) {report.skipped_concurrent}"
        )
        # An old key may be removed from GRIDCARE_PII_KEYS only once no row needs it.
        print("rows per key version still in use: " + (", ".join(f"{v}: {n}" for v, n in in_use.items()) or "none"))  # noqa: T201

    asyncio.run(go())
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from services.load.morning import main as run_load

    return run_load(args)


def cmd_dev(_: argparse.Namespace) -> int:
    from services.dev.run import run_dev

    return run_dev()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gridcare`` console script."""
    parser = argparse.ArgumentParser(prog="gridcare", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="embedded servers (if no URLs set), migrations, demo data, API and worker").set_defaults(
        fn=cmd_dev
    )
    p = sub.add_parser("api", help="run the HTTP API (uvicorn; one process per core unless told otherwise)")
    p.add_argument(
        "--workers", type=int, default=None, help="processes (default: GRIDCARE_API_WORKERS, else one per core)"
    )
    p.set_defaults(fn=cmd_api)
    sub.add_parser("worker", help="run the arq worker").set_defaults(fn=cmd_worker)
    p = sub.add_parser("migrate", help="apply (or with --down, revert) migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.add_argument("--down", action="store_true")
    p.set_defaults(fn=cmd_migrate)
    p = sub.add_parser("openapi", help="write contracts/openapi.json and contracts/events/*.json, or --check them")
    p.add_argument("--check", action="store_true")
    p.set_defaults(fn=cmd_openapi)
    p = sub.add_parser("webhook-receiver", help="print webhook deliveries whose signatures verify")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--secret", action="append", help="whsec_... (twice during a rotation)")
    p.add_argument("--status", type=int, default=None, help="answer this status instead (500, 410: see retries)")
    p.set_defaults(fn=cmd_webhook_receiver)
    p = sub.add_parser("init-district", help="create a district and its first administrator")
    p.add_argument("--code", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--admin-username", required=True)
    p.add_argument("--admin-name", default="District administrator")
    p.add_argument("--admin-password", required=True)
    p.set_defaults(fn=cmd_init_district)
    p = sub.add_parser("load", help="drive a running API over HTTP (a mixed morning) and print latencies")
    from services.load.morning import add_arguments

    add_arguments(p)
    p.set_defaults(fn=cmd_load)
    p = sub.add_parser("rotate-pii-keys", help="re-encrypt personal data under the newest PII key, in batches")
    p.add_argument("--batch-size", type=int, default=1000)
    p.set_defaults(fn=cmd_rotate_pii_keys)
    args = parser.parse_args(argv)
    code: int = args.fn(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
