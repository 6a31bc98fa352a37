"""The `canceldesk` command: serve, worker, migrate, import, demo, bench, staff, audit."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys

from pydantic import ValidationError

from canceldesk.service_layer.principal import ACCOUNT_ROLES


def _settings(**overrides):
    from canceldesk.config import Settings
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(x) for x in e["loc"]) or "settings"
            print(f"configuration error: {field}: {e['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_migrate(args) -> int:
    from canceldesk.adapters import migrate
    s = _settings()
    migrate.upgrade(s.database_url)
    print(f"database is at the latest schema ({_safe_url(s.database_url)})")
    return 0


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def proxy_options(forwarded_allow_ips: str | None) -> dict:
    """uvicorn's proxy settings. Only the listed proxies' X-Forwarded-For is believed; with none
    listed it is ignored — so a client can never choose the address the per-address limits count."""
    trusted = ",".join(p.strip() for p in (forwarded_allow_ips or "").split(",") if p.strip())
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def cmd_serve(args) -> int:
    import uvicorn
    from canceldesk.entrypoints.api.app import create_app
    from canceldesk.bootstrap import bootstrap
    s = _settings()
    trusted = args.forwarded_allow_ips if getattr(args, "forwarded_allow_ips", None) is not None \
        else s.forwarded_allow_ips
    options = dict(host=args.host or s.host, port=args.port or s.port, log_level="warning", access_log=False,
                   **proxy_options(trusted))
    workers = getattr(args, "workers", 1) or 1
    if workers > 1:
        # Each process builds its own app and container (pools are per process); the socket is shared.
        uvicorn.run("canceldesk.entrypoints.api.app:app_from_env", factory=True, workers=workers, **options)
        return 0
    from canceldesk.bootstrap import serving_process
    serving_process()
    uvicorn.run(create_app(bootstrap(s)), workers=1, **options)
    return 0


def cmd_worker(args) -> int:
    from canceldesk.bootstrap import bootstrap, serving_process
    from canceldesk.entrypoints.worker.run import run_worker
    serving_process()
    c = bootstrap(_settings())
    run_worker(c, workers=args.workers)
    return 0


def cmd_import(args) -> int:
    from canceldesk.bootstrap import bootstrap
    from canceldesk.service_layer import importer
    from canceldesk.service_layer.errors import ServiceError
    c = bootstrap(_settings(), with_queue=False)
    if not os.path.exists(args.file):
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    try:
        report = importer.import_path(c, args.file)
    except ServiceError as exc:
        print(f"import rejected, nothing was written: {exc.message}", file=sys.stderr)
        details = exc.details if isinstance(exc.details, dict) else {}
        for e in details.get("errors", [])[:200]:
            print(f"  {e['path']}: {e['message']}", file=sys.stderr)
        return 1
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_staff(args) -> int:
    from canceldesk.bootstrap import bootstrap
    from canceldesk.service_layer import auth
    c = bootstrap(_settings(), with_queue=False)
    password = os.environ.get("CANCELDESK_STAFF_PASSWORD") or args.password
    if not password:
        print("give the password in CANCELDESK_STAFF_PASSWORD (not on the command line in production)", file=sys.stderr)
        return 2
    auth.create_staff_user(c, args.username, password, args.role, args.name or args.username, args.store, args.enterprise)
    print(f"staff user {args.username} ({args.role}) saved")
    return 0


def cmd_demo(args) -> int:
    """Fresh demo: migrate, load demo data, start the worker and the server; Ctrl-C stops both."""
    from canceldesk.demo.load import load_demo
    os.environ.setdefault("CANCELDESK_ENV", "demo")
    s = _settings()
    logins = load_demo(s, reset=not args.keep)
    port = args.port or s.port
    url = f"http://{s.host}:{port}"
    print("\n" + "=" * 72)
    print(f" canceldesk demo is starting at {url}")
    print(f"   portal: {url}/    API docs: {url}/docs    SMS outbox: {url}/dev/outbox")
    print(" demo logins (subscribers log in by SMS code; read it from the outbox):")
    for row in logins["subscribers"]:
        print(f"   {row['msisdn']}  {row['scenario']}")
        print(f"               second factor for closing: id_last6 {row['id_last6']} or service password {row['service_password']}")
    for row in logins["staff"]:
        print(f"   staff {row['username']:<10} password {row['password']:<12} {row['role']}")
    if logins.get("fleet_admin"):
        print(f"   enterprise {logins['enterprise_admin']['msisdn']}  {url}/enterprise  (50 cards)")
        print(f"   enterprise {logins['fleet_admin']['msisdn']}  {url}/enterprise  (1,000 lines: upload docs/demo/fleet-1000.csv)")
    print(" channels (in another terminal):")
    print("   SMS:   canceldesk sms --from 13800138000 0000      then: canceldesk sms 1   and: canceldesk sms Y")
    print("   phone: canceldesk call --from 13800138000           (keys: 1 services, 2 renewals, 3 close, 9 English, 0 agent)")
    print(f"   kiosk: {url}/kiosk   (ID document + code)")
    print(" Ctrl-C stops everything.")
    print("=" * 72 + "\n", flush=True)
    worker = subprocess.Popen([sys.executable, "-m", "canceldesk.cli", "worker", "--workers", "2"], env=os.environ.copy())
    try:
        args.host = None
        args.port = port
        return cmd_serve(args)
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


def cmd_bench(args) -> int:
    from canceldesk.bench_runner import main as bench_main
    if getattr(args, "large", False):  # bench_fleet_order.py: BENCH_FLEET_LARGE_N items (1,000,000)
        os.environ["BENCH_FLEET_LARGE"] = "1"
    return bench_main(args.only)


def cmd_audit(args) -> int:
    from canceldesk.bootstrap import bootstrap
    from canceldesk.service_layer import audit
    c = bootstrap(_settings(), with_queue=False)
    expect = None
    if args.expect_head:
        seq, _, digest = args.expect_head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            print("--expect-head takes SEQ:HASH as printed by an earlier `canceldesk audit verify`", file=sys.stderr)
            return 2
        expect = (int(seq), digest)
    problems = audit.verify_chain(c, expect_head=expect)
    if not problems:
        head = audit.head(c)
        print("audit chain intact" + (f"; head {head['seq']}:{head['hash']} (write it down: "
                                      f"`canceldesk audit verify --expect-head {head['seq']}:{head['hash']}` "
                                      f"later proves nothing was cut off)" if head else " (empty)"))
        return 0
    for p in problems:
        where = f"audit row {p['id']} (seq {p['seq']})" if p["id"] is not None else f"audit seq {p['seq']}"
        print(f"{where}: {p['problem']}", file=sys.stderr)
    return 1


def cmd_keys(args) -> int:
    from canceldesk.bootstrap import bootstrap
    from canceldesk.service_layer import keys
    c = bootstrap(_settings(), with_queue=False)
    report = keys.rotate(c) if args.action == "rotate" else keys.status(c)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_partner_key(args) -> int:
    """Partner API keys for an enterprise: create (printed once), list, revoke."""
    from canceldesk.bootstrap import bootstrap
    from canceldesk.service_layer import partner_keys
    from canceldesk.service_layer.errors import ServiceError
    c = bootstrap(_settings(), with_queue=False)
    try:
        if args.action == "create":
            report = partner_keys.issue(c, args.enterprise, args.name or "", "cli")
        elif args.action == "list":
            report = partner_keys.all_keys(c, args.enterprise)
        else:
            report = partner_keys.revoke(c, None, args.key_id or "", args.enterprise)
    except ServiceError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def cmd_sms(args) -> int:
    from canceldesk.channel_sim import main_sms
    return main_sms(_settings(), args)


def cmd_call(args) -> int:
    from canceldesk.channel_sim import main_call
    return main_call(_settings(), args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="canceldesk", description="canceldesk — end what you pay for, with proof.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the API and portal")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--forwarded-allow-ips", metavar="IPS",
                   help="comma-separated addresses of the reverse proxies whose X-Forwarded-For is trusted "
                        "(default: CANCELDESK_FORWARDED_ALLOW_IPS, else none — the client's own address counts)")
    s.add_argument("--workers", type=int, default=1, metavar="N",
                   help="API processes sharing the port (default 1); on SQLite they share the database file")
    s.set_defaults(func=cmd_serve)
    w = sub.add_parser("worker", help="run background workers (the queue consumer and scheduled duties)")
    w.add_argument("--workers", type=int, default=2)
    w.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(func=cmd_migrate)
    i = sub.add_parser("import", help="import a JSON document or JSON Lines feed")
    i.add_argument("file")
    i.set_defaults(func=cmd_import)
    d = sub.add_parser("demo", help="load demo data and run server + worker")
    d.add_argument("--port", type=int)
    d.add_argument("--keep", action="store_true", help="keep the existing demo database")
    d.set_defaults(func=cmd_demo)
    b = sub.add_parser("bench", help="run the benchmarks, write bench/results/latest.json")
    b.add_argument("--only", action="append", help="run only this benchmark (http, engine, import, ...)")
    b.add_argument("--large", action="store_true", help="the fleet_order benchmark's order closes 1,000,000 lines instead of 100,000")
    b.set_defaults(func=cmd_bench)
    st = sub.add_parser("staff", help="create or update a staff user")
    st.add_argument("username")
    st.add_argument("--role", required=True, choices=list(ACCOUNT_ROLES))
    st.add_argument("--name")
    st.add_argument("--store")
    st.add_argument("--enterprise")
    st.add_argument("--password", help="prefer CANCELDESK_STAFF_PASSWORD")
    st.set_defaults(func=cmd_staff)
    a = sub.add_parser("audit", help="audit log tools")
    a.add_argument("action", choices=["verify"])
    a.add_argument("--expect-head", metavar="SEQ:HASH", help="a head printed earlier: fail if it is gone")
    a.set_defaults(func=cmd_audit)
    k = sub.add_parser("keys", help="encryption keys: rotate (re-encrypt under the current key) or status")
    k.add_argument("action", choices=["rotate", "status"])
    k.set_defaults(func=cmd_keys)
    pk = sub.add_parser("partner-key", help="partner API keys of an enterprise: create (shown once), list, revoke")
    pk.add_argument("action", choices=["create", "list", "revoke"])
    pk.add_argument("key_id", nargs="?", help="the key to revoke")
    pk.add_argument("--enterprise", required=True, help="the enterprise's customer id")
    pk.add_argument("--name", help="which system will use the key (create)")
    pk.set_defaults(func=cmd_partner_key)
    sm = sub.add_parser("sms", help="play the SMS centre: send a signed message (e.g. 0000) and print the replies")
    sm.add_argument("text", nargs="*", help="messages to send in turn; none = type them interactively")
    sm.add_argument("--from", dest="sender", default="13800138000", help="the sending number (default 13800138000)")
    sm.add_argument("--url", help="the server (default http://HOST:PORT or CANCELDESK_PUBLIC_URL)")
    sm.set_defaults(func=cmd_sms)
    ca = sub.add_parser("call", help="play the phone: call the IVR with signed webhooks and press keys")
    ca.add_argument("--from", dest="sender", default="13800138000", help="the calling number (default 13800138000)")
    ca.add_argument("--keys", help="comma-separated key presses, then hang up (e.g. 2,1,1); none = interactive")
    ca.add_argument("--url", help="the server (default http://HOST:PORT or CANCELDESK_PUBLIC_URL)")
    ca.set_defaults(func=cmd_call)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
