"""``vislang humaneval init | raters add | serve | export``: run a rating study."""

from __future__ import annotations

import argparse
import sys


def register(commands) -> None:
    p = commands.add("init", "create the ratings database for a task and print the admin token", _init,
                     group="humaneval", epilog="example:\n  vislang humaneval init --task task.json --db ratings.sqlite")
    p.add_argument("--task", required=True, help="task JSON (see docs/humaneval.md)")
    p.add_argument("--db", required=True, help="SQLite ratings database (created if missing)")
    p.add_argument("--reset-admin-token", action="store_true", help="replace the admin token and print the new one")

    p = commands.add("raters", "add raters (each gets a secret token link)", _raters, group="humaneval",
                     epilog="example:\n  vislang humaneval raters add --db ratings.sqlite --name alice "
                            "--base-url http://127.0.0.1:8080")
    p.add_argument("action", choices=["add"], help="add: create a rater and print the link")
    p.add_argument("--db", required=True, help="SQLite ratings database")
    p.add_argument("--name", required=True, help="the rater's name (shown in the export)")
    p.add_argument("--base-url", default="http://127.0.0.1:8080", help="server address used in the printed link")

    p = commands.add("serve", "serve the rating app (localhost only by default)", _serve, group="humaneval",
                     description="Serve the rating app with werkzeug's threaded server.  Raters open the link "
                                 "printed by 'vislang humaneval raters add'.  Binds to 127.0.0.1 unless --host "
                                 "says otherwise (put a TLS reverse proxy in front before exposing it).",
                     epilog="example:\n  vislang humaneval serve --task task.json --db ratings.sqlite --port 8080")
    p.add_argument("--task", required=True, help="task JSON")
    p.add_argument("--db", required=True, help="SQLite ratings database (initialised on first use)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")

    p = commands.add("export", "export the ratings to CSV or JSON", _export, group="humaneval",
                     epilog="example:\n  vislang humaneval export --db ratings.sqlite --out ratings.csv")
    p.add_argument("--db", required=True, help="SQLite ratings database")
    p.add_argument("--out", required=True, help="ratings.csv or ratings.json")


def _open_db(path, must_exist: bool = True):
    from pathlib import Path

    from vislang.errors import ResourceNotFound
    from vislang.humaneval.store import Store

    if must_exist and not Path(path).is_file():
        raise ResourceNotFound(f"{path}: no ratings database; create it with 'vislang humaneval init --task T --db {path}'")
    return Store(path)


def _init(args: argparse.Namespace) -> int:
    from vislang.humaneval.tasks import load_task

    task = load_task(args.task)
    store = _open_db(args.db, must_exist=False)
    token = store.load_items(task)
    if args.reset_admin_token:
        token = store.reset_admin_token()
    if token:
        print(f"admin token (shown once; send it as 'Authorization: Bearer <token>'): {token}")
    else:
        print(f"{args.db}: already initialised for task {task.name!r} (use --reset-admin-token for a new admin token)")
    return 0


def _raters(args: argparse.Namespace) -> int:
    store = _open_db(args.db)
    rid, token = store.add_rater(args.name)
    print(f"rater {rid} {args.name}: {args.base_url.rstrip('/')}/r/{token}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from vislang.humaneval.app import make_server
    from vislang.humaneval.tasks import load_task
    from vislang.progress import info

    task = load_task(args.task)
    store = _open_db(args.db, must_exist=False)
    token = store.load_items(task)
    if token:
        print(f"admin token (shown once): {token}", file=sys.stderr)
    server = make_server(task, store, args.host, args.port)
    info(f"serving task {task.name!r} on http://{args.host}:{server.server_port}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _export(args: argparse.Namespace) -> int:
    from vislang.progress import info

    n = _open_db(args.db).export(args.out)
    info(f"{args.out}: {n} ratings")
    return 0
