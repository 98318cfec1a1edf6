"""The ratings database: SQLite in WAL mode, one connection per thread.

Tables: ``raters`` (token stored as its SHA-256, never in clear), ``items``, ``assignments``
(which items a rater rates, in which order), ``ratings`` with ``UNIQUE(rater_id, item_id)`` so a
repeated submission (double click, retried request) stores one rating, and ``meta`` (admin token
hash, task name).  Assignment runs in a ``BEGIN IMMEDIATE`` transaction, so concurrent first visits
cannot hand the same item out more than ``k`` times.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from vislang.errors import ConfigError, InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raters (id INTEGER PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
                                   created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, type TEXT NOT NULL, is_check INTEGER NOT NULL,
                                  expected INTEGER, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (rater_id INTEGER NOT NULL REFERENCES raters(id),
                                        item_id TEXT NOT NULL REFERENCES items(id), position INTEGER NOT NULL,
                                        PRIMARY KEY (rater_id, item_id));
CREATE TABLE IF NOT EXISTS ratings (id INTEGER PRIMARY KEY, rater_id INTEGER NOT NULL REFERENCES raters(id),
                                    item_id TEXT NOT NULL REFERENCES items(id), value INTEGER NOT NULL,
                                    created REAL NOT NULL, UNIQUE (rater_id, item_id));
"""

EXPORT_FIELDS = ["rater", "rater_id", "item_id", "type", "value", "is_check", "passed_check", "created_utc"]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Store:
    def __init__(self, path):
        self.path = Path(path)
        self._local = threading.local()
        self.conn.executescript(SCHEMA)

    # -- connections ----------------------------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            except sqlite3.Error as exc:
                raise ConfigError(f"{self.path}: cannot open the ratings database ({exc})") from None
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def journal_mode(self) -> str:
        return self.conn.execute("PRAGMA journal_mode").fetchone()[0]

    # -- setup ----------------------------------------------------------------------------------------------------
    def load_items(self, task) -> str | None:
        """Insert the task's items (once); return a new admin token if none existed yet."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            old = c.execute("SELECT value FROM meta WHERE key='task'").fetchone()
            if old and old[0] != task.name:
                raise ConfigError(f"{self.path}: holds ratings for task {old[0]!r}, not {task.name!r}; use another --db")
            c.execute("INSERT OR IGNORE INTO meta VALUES ('task', ?)", (task.name,))
            for it in task.items:
                payload = {k: v for k, v in it.items() if k not in ("id", "type", "is_check", "expected")}
                c.execute("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?)",
                          (it["id"], it["type"], int(it["is_check"]), it.get("expected"), json.dumps(payload)))
            token = None
            if not c.execute("SELECT 1 FROM meta WHERE key='admin_token_hash'").fetchone():
                token = secrets.token_urlsafe(24)
                c.execute("INSERT INTO meta VALUES ('admin_token_hash', ?)", (_hash(token),))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return token

    def add_rater(self, name: str) -> tuple[int, str]:
        if not name or len(name) > 200:
            raise InputError("raters add: --name must be 1-200 characters")
        token = secrets.token_urlsafe(24)
        cur = self.conn.execute("INSERT INTO raters (name, token_hash, created) VALUES (?, ?, ?)",
                                (name, _hash(token), time.time()))
        return int(cur.lastrowid), token

    def reset_admin_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('admin_token_hash', ?)", (_hash(token),))
        return token

    # -- authentication (constant-time comparison of token hashes) ------------------------------------------------
    def rater_for_token(self, token: str) -> int | None:
        if not token or len(token) > 200:
            return None
        h = _hash(token)
        row = self.conn.execute("SELECT id, token_hash FROM raters WHERE token_hash = ?", (h,)).fetchone()
        if row is None or not secrets.compare_digest(row[1], h):
            return None
        return int(row[0])

    def is_admin(self, token: str) -> bool:
        row = self.conn.execute("SELECT value FROM meta WHERE key='admin_token_hash'").fetchone()
        return bool(row and token and len(token) <= 200 and secrets.compare_digest(row[0], _hash(token)))

    # -- assignment and ratings -----------------------------------------------------------------------------------
    def assignment(self, rater_id: int, task) -> list[str]:
        """The rater's items in presentation order; made (once) on the first call."""
        from vislang.humaneval.tasks import rater_order

        c = self.conn
        rows = c.execute("SELECT item_id FROM assignments WHERE rater_id=? ORDER BY position", (rater_id,)).fetchall()
        if rows:
            return [r[0] for r in rows]
        c.execute("BEGIN IMMEDIATE")
        try:
            rows = c.execute("SELECT item_id FROM assignments WHERE rater_id=? ORDER BY position", (rater_id,)).fetchall()
            if rows:
                c.execute("COMMIT")
                return [r[0] for r in rows]
            counts = dict(c.execute("SELECT item_id, COUNT(*) FROM assignments GROUP BY item_id").fetchall())
            regular = [it["id"] for it in task.items if not it["is_check"] and counts.get(it["id"], 0) < task.k]
            # least-assigned first; ties broken by a seeded shuffle so raters spread over the items
            regular = rater_order(regular, task.seed, rater_id)
            regular.sort(key=lambda i: counts.get(i, 0))
            if task.per_rater is not None:
                regular = regular[:task.per_rater]
            checks = [it["id"] for it in task.items if it["is_check"]]
            order = rater_order(regular + checks, task.seed, rater_id) if regular else []
            c.executemany("INSERT INTO assignments VALUES (?, ?, ?)", [(rater_id, i, p) for p, i in enumerate(order)])
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return order

    def rate(self, rater_id: int, item_id: str, value: int) -> bool:
        """Store a rating; False when this rater had already rated the item (the first rating stands)."""
        cur = self.conn.execute("INSERT OR IGNORE INTO ratings (rater_id, item_id, value, created) VALUES (?, ?, ?, ?)",
                                (rater_id, item_id, int(value), time.time()))
        return cur.rowcount == 1

    def rated(self, rater_id: int) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT item_id FROM ratings WHERE rater_id=?", (rater_id,))}

    def status(self) -> dict[str, Any]:
        c = self.conn
        return {"raters": c.execute("SELECT COUNT(*) FROM raters").fetchone()[0],
                "items": c.execute("SELECT COUNT(*) FROM items WHERE is_check=0").fetchone()[0],
                "ratings": c.execute("SELECT COUNT(*) FROM ratings").fetchone()[0]}

    # -- export ---------------------------------------------------------------------------------------------------
    def export_rows(self) -> list[dict[str, Any]]:
        q = ("SELECT raters.name, ratings.rater_id, ratings.item_id, items.type, ratings.value, items.is_check, "
             "items.expected, ratings.created FROM ratings JOIN raters ON raters.id = ratings.rater_id "
             "JOIN items ON items.id = ratings.item_id ORDER BY ratings.id")
        out = []
        for name, rid, item, typ, value, is_check, expected, created in self.conn.execute(q):
            out.append({"rater": name, "rater_id": rid, "item_id": item, "type": typ, "value": value,
                        "is_check": int(is_check), "passed_check": (int(value == expected) if is_check else ""),
                        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))})
        return out

    def export(self, path) -> int:
        from vislang.fileio import atomic_write, write_json

        rows = self.export_rows()
        path = Path(path)
        if path.suffix.lower() == ".json":
            write_json(path, {"task": (self.conn.execute("SELECT value FROM meta WHERE key='task'").fetchone()
                                       or [None])[0], "fields": EXPORT_FIELDS, "ratings": rows})
        elif path.suffix.lower() == ".csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
            with atomic_write(path, "w", encoding="utf-8") as fh:
                fh.write(buf.getvalue())
        else:
            raise InputError(f"{path}: --out must end in .csv or .json")
        return len(rows)

