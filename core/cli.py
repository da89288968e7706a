"""The `synapse` command. Exit codes: 0 done, 1 a check failed or the request was refused, 2 usage,
3 configuration or database unreachable."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path

from core import db
from core.config import ConfigurationError, get_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3
REPO_ROOT = Path(__file__).resolve().parent.parent


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _migrate() -> None:
    from core.migrate import upgrade

    upgrade(db.get_engine())


def _system():  # type: ignore[no-untyped-def]
    from core.security.rbac import system_actor

    return system_actor(f"cli:{getpass.getuser()}")


def cmd_init(args: argparse.Namespace) -> int:
    from core.services import users

    _migrate()
    print("Database migrated to the newest schema.")
    with db.unit_of_work() as session:
        if users.admin_exists(session=session):
            print("An administrator already exists; nothing else to do.")
            return EXIT_OK
    username = args.admin_username or input("Administrator username: ")
    full_name = args.admin_name or username
    password = os.environ.get("SYNAPSE_ADMIN_PASSWORD") or getpass.getpass("Password (12+ characters): ")
    from core.errors import DomainError

    try:
        with db.unit_of_work() as session:
            created = users.create_first_admin(session=session, actor=_system(), data={
                "username": username, "full_name": full_name, "role": "admin", "password": password})
    except DomainError as exc:
        _err(f"Not created: {exc}")
        return EXIT_FAILED
    print(f"Administrator {created.user.username!r} created.")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    settings = get_settings()
    port = str(args.port or settings.port)
    argv = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "Home.py"), "--server.port", port,
            "--server.address", args.address or settings.address]
    os.chdir(REPO_ROOT)
    os.execv(sys.executable, argv)
    return EXIT_OK  # pragma: no cover


def cmd_demo(args: argparse.Namespace) -> int:
    from core.services.demo import create_demo_clinic

    _migrate()
    with db.unit_of_work() as session:
        created = create_demo_clinic(session=session, actor=_system())
    if not created:
        print("The demo clinic already exists; its passwords were shown when it was created.")
        print("Forgot one? `synapse user reset USERNAME` issues a one-time reset code.")
        return EXIT_OK
    print("Demo clinic created. These passwords are shown once; they are not stored anywhere in clear:")
    for login in created:
        print(f"  {login.role:<13} {login.username:<10} {login.password}")
    return EXIT_OK


def cmd_user(args: argparse.Namespace) -> int:
    from core.services import users

    actor = _system()
    if args.user_command == "add":
        password = None
        if args.password_prompt:
            password = getpass.getpass("Password (12+ characters): ")
        with db.unit_of_work() as session:
            created = users.create_user(session=session, actor=actor, data={
                "username": args.username, "full_name": args.full_name or args.username, "role": args.role,
                "password": password})
        print(f"User {created.user.username!r} ({created.user.role.value}) created.")
        if created.setup_code:
            print(f"One-time set-up code (valid 72 hours; shown once): {created.setup_code}")
            print("The user chooses a password with it on the sign-in page ('Have a reset code?').")
        return EXIT_OK
    if args.user_command == "list":
        with db.unit_of_work() as session:
            rows = users.list_users(session=session, actor=actor)
        print(f"{'username':<20} {'role':<13} {'active':<7} {'2fa':<4} last sign-in")
        for u in rows:
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "never"
            print(f"{u.username:<20} {u.role.value:<13} {'yes' if u.is_active else 'no':<7} "
                  f"{'on' if u.totp_enabled else 'off':<4} {last}")
        return EXIT_OK
    if args.user_command in ("deactivate", "activate"):
        with db.unit_of_work() as session:
            user_id = users.find_user_id(session=session, actor=actor, username=args.username)
            users.set_active(session=session, actor=actor, user_id=user_id, active=args.user_command == "activate")
        print(f"User {args.username!r} {args.user_command}d; their sessions have ended." if args.user_command == "deactivate"
              else f"User {args.username!r} activated.")
        return EXIT_OK
    if args.user_command == "reset":
        with db.unit_of_work() as session:
            user_id = users.find_user_id(session=session, actor=actor, username=args.username)
            code = users.issue_reset_code(session=session, actor=actor, user_id=user_id)
        print(f"One-time reset code for {args.username!r} (valid 72 hours; shown once): {code}")
        return EXIT_OK
    if args.user_command == "totp":
        with db.unit_of_work() as session:
            secret, uri = users.enroll_totp_for(session=session, actor=actor, username=args.username)
        print(f"Authenticator secret for {args.username!r} (enter it in the app; shown once): {secret}")
        print(f"Or as a URI: {uri}")
        return EXIT_OK
    return EXIT_USAGE


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    from core.security.crypto import get_keyring
    from core.services.keys import rotate_keys

    keyring = get_keyring()
    if keyring.key_count < 2:
        print("Note: only one encryption key is configured; values not under it cannot be rotated.")

    def progress(table: str, scanned: int) -> None:
        print(f"  {table}: {scanned} values scanned so far", file=sys.stderr)

    report = rotate_keys(engine=db.get_engine(), actor=_system(), keyring=keyring, batch_size=args.batch_size,
                         progress=progress)
    print(f"Scanned {report.scanned} encrypted values: {report.rotated} re-encrypted under the first key, "
          f"{report.already_current} already current, {report.unreadable} unreadable with the configured keys.")
    for name, count in sorted(report.per_column.items()):
        print(f"  {name}: {count}")
    if report.unreadable:
        print("Some values could not be decrypted: keep the old keys until they are accounted for.")
        return EXIT_FAILED
    print("Done. The keys after the first may now be removed from SYNAPSE_ENCRYPTION_KEYS.")
    return EXIT_OK


def _parse_anchor(value: str) -> tuple[int, str]:
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError("use SEQ:HASH as printed by `synapse audit head`")
    return int(seq), digest


def cmd_audit(args: argparse.Namespace) -> int:
    from core.services import audit

    with db.unit_of_work() as session:
        if args.audit_command == "head":
            seq, digest = audit.chain_head(session)
            print(f"{seq}:{digest}")
            return EXIT_OK
        report = audit.verify_chain(session, anchor=args.anchor)
    if report.ok:
        print(f"Audit chain intact: {report.checked} rows checked, head at row {report.head_seq}.")
        return EXIT_OK
    print(f"Audit chain BROKEN at row {report.first_broken_seq}: {report.problem} "
          f"({report.checked} rows checked).")
    return EXIT_FAILED


def cmd_status(args: argparse.Namespace) -> int:
    from core.services.system import system_status

    status = system_status(engine=db.get_engine(), settings=get_settings())
    for check in status.checks:
        print(f"{'ok ' if check.ok else 'FAIL'} {check.name:<12} {check.detail}")
    from core.speech.engines import engine_status

    for line in engine_status(get_settings()):
        print(f"     speech       {line}")
    return EXIT_OK if status.ok else EXIT_FAILED


def cmd_import(args: argparse.Namespace) -> int:
    from core.services.patient_import import import_patients

    path = Path(args.file)
    if not path.is_file():
        _err(f"No such file: {path}")
        return EXIT_USAGE
    with db.unit_of_work() as session:
        report = import_patients(session=session, actor=_system(), content=path.read_bytes(),
                                 skip_invalid=args.skip_invalid)
    for line, reason in report.rejected:
        print(f"line {line}: {reason}", file=sys.stderr)
    if report.rejected and not args.skip_invalid:
        print(f"{len(report.rejected)} of {report.rows} rows are invalid; nothing was imported. "
              "Fix them, or use --skip-invalid to import the valid rows.")
        return EXIT_FAILED
    print(f"Imported {report.imported} of {report.rows} patients.")
    if report.rejected:
        rejects = Path(args.rejects or path.with_name(path.stem + ".rejects.csv"))
        fd = os.open(rejects, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(report.rejects_csv)
        print(f"{len(report.rejected)} rows rejected; written to {rejects} (it holds patient data: delete it when done).")
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace) -> int:
    from core.security.crypto import generate_fernet_key, generate_index_key

    print("# Keep these out of the repository; put them in the server's environment or secret store.")
    print(f"SYNAPSE_ENCRYPTION_KEYS={generate_fernet_key()}")
    print(f"SYNAPSE_INDEX_KEY={generate_index_key()}")
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    _migrate()
    print("Database migrated to the newest schema.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synapse", description="Synapse clinic dashboard: operations.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="migrate the database and create the first administrator")
    p.add_argument("--admin-username")
    p.add_argument("--admin-name")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("run", help="start the web app (Streamlit)")
    p.add_argument("--port", type=int)
    p.add_argument("--address", help="listen address (default SYNAPSE_ADDRESS, 127.0.0.1)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="create the demo clinic (idempotent); prints new passwords once")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("user", help="manage staff accounts")
    usub = p.add_subparsers(dest="user_command", required=True)
    a = usub.add_parser("add", help="add a user; prints a one-time set-up code unless --password-prompt")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=["admin", "doctor", "receptionist", "manager"])
    a.add_argument("--full-name")
    a.add_argument("--password-prompt", action="store_true", help="type a password instead of a set-up code")
    usub.add_parser("list", help="list users")
    for name, text in (("deactivate", "deactivate a user and end their sessions"), ("activate", "reactivate a user"),
                       ("reset", "issue a one-time password reset code"),
                       ("totp", "set up a user's authenticator app (prints the secret once)")):
        x = usub.add_parser(name, help=text)
        x.add_argument("username")
    p.set_defaults(func=cmd_user)

    p = sub.add_parser("rotate-keys", help="re-encrypt every value under the first key (resumable)")
    p.add_argument("--batch-size", type=int, default=500)
    p.set_defaults(func=cmd_rotate_keys)

    p = sub.add_parser("audit", help="verify the audit log's hash chain")
    asub = p.add_subparsers(dest="audit_command", required=True)
    v = asub.add_parser("verify", help="walk the chain and name the first broken row")
    v.add_argument("--anchor", type=_parse_anchor, help="SEQ:HASH recorded earlier with `synapse audit head`")
    asub.add_parser("head", help="print the newest link (SEQ:HASH) to record outside the database")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("import", help="import data from files")
    isub = p.add_subparsers(dest="import_command", required=True)
    ip = isub.add_parser("patients", help="import patients from a CSV file (all rows valid, or --skip-invalid)")
    ip.add_argument("file")
    ip.add_argument("--skip-invalid", action="store_true", help="import the valid rows and write the rejects to a CSV")
    ip.add_argument("--rejects", help="where to write rejected rows (default FILE.rejects.csv)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("keygen", help="print a new encryption key and index key for production")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("status", help="database, migrations, key configuration and speech engine")
    p.set_defaults(func=cmd_status)

    from core.speech.transcribe_cli import add_parser as add_speech_commands

    add_speech_commands(sub)  # transcribe FILE, models fetch/status: no database needed
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    from sqlalchemy.exc import OperationalError

    from core.errors import DomainError
    from core.security.crypto import KeyConfigurationError

    try:
        if args.func is not cmd_keygen:
            get_settings()
        return int(args.func(args))
    except (ConfigurationError, KeyConfigurationError) as exc:
        _err(f"Configuration error: {exc}")
        return EXIT_CONFIG
    except OperationalError as exc:
        _err(f"The database is not reachable: {type(exc.orig).__name__ if exc.orig else 'error'}. "
             "Check SYNAPSE_DATABASE_URL and that the server is running.")
        return EXIT_CONFIG
    except DomainError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("Interrupted.")
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - last resort: a short message, the traceback only on request
        logging.getLogger("synapse.cli").debug("unexpected error", exc_info=True)
        _err(f"Unexpected error: {type(exc).__name__}. Run with SYNAPSE_DEBUG=1 for details.")
        if os.environ.get("SYNAPSE_DEBUG"):
            raise
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
