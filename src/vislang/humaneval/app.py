"""The rating web app (Flask).

Raters open ``/r/<token>``: one item at a time, in their own seeded order, with their progress;
a rating is a POST to ``/r/<token>/rate`` (stored once per rater and item; a repeat is ignored) that
redirects back.  Media are served from ``/r/<token>/media/<path>`` only from the task's
``media_dirs``.  Management (``Authorization: Bearer <admin token>``): ``GET /admin/status``,
``GET /admin/export.csv`` / ``.json``, ``POST /admin/raters`` (form ``name``).

Security: unknown tokens get 403; tokens are compared as SHA-256 digests with
``secrets.compare_digest``; templates are Jinja with autoescape (``render_template_string``
always escapes); request bodies are capped (``MAX_CONTENT_LENGTH``); responses carry a strict
Content-Security-Policy and ``Referrer-Policy: no-referrer`` (the token is in the URL).
"""

from __future__ import annotations

import json

from flask import Flask, Response, abort, jsonify, redirect, render_template_string, request, send_file

from vislang.humaneval.store import Store
from vislang.humaneval.tasks import QUESTIONS, SCALES, Task, pairwise_flip, resolve_media

MAX_BODY = 16 * 1024

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:sans-serif;max-width:52em;margin:2em auto}img{max-width:100%;max-height:24em}
.side{display:inline-block;width:48%;vertical-align:top}button{margin:.2em;padding:.5em 1em}</style></head>
<body>
<h1>{{ title }}</h1>
<p id="progress">Progress: <span id="done">{{ done }}</span> of <span id="total">{{ total }}</span> rated</p>
{% if item is none %}
<p id="finished">All done, thank you!</p>
{% else %}
<p class="question">{{ question }}</p>
{% if kind == "pairwise" %}
  {% for label, side in sides %}
  <div class="side"><h2>{{ label }}</h2>
    {% if side.image %}<img src="{{ base }}/media/{{ side.image }}" alt="output {{ label }}">{% endif %}
    {% if side.caption %}<p class="caption">{{ side.caption }}</p>{% endif %}</div>
  {% endfor %}
{% else %}
  {% if item.image %}<img src="{{ base }}/media/{{ item.image }}" alt="item">{% endif %}
  {% if item.caption %}<p class="caption" id="caption">{{ item.caption }}</p>{% endif %}
{% endif %}
<form method="post" action="{{ base }}/rate">
<input type="hidden" name="item_id" value="{{ item_id }}">
{% for value, label in scale %}<button type="submit" name="value" value="{{ value }}" class="rate"
 id="rate-{{ value }}">{{ label }}</button>{% endfor %}
</form>
{% endif %}
</body></html>"""


def create_app(task: Task, store: Store) -> Flask:
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, MAX_FORM_MEMORY_SIZE=MAX_BODY)

    def rater_or_403(token: str) -> int:
        rid = store.rater_for_token(token)
        if rid is None:
            abort(403)
        return rid

    def admin_or_403() -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not store.is_admin(auth[7:].strip()):
            abort(403)

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    for code, text in ((400, "bad request"), (403, "forbidden: this link is not valid"), (404, "not found"),
                       (405, "method not allowed"), (413, "request too large")):
        app.register_error_handler(code, lambda e, c=code, t=text: Response(t + "\n", status=c, mimetype="text/plain"))

    @app.get("/")
    def index():
        abort(403)

    @app.get("/r/<token>")
    def rate_page(token: str):
        rid = rater_or_403(token)
        order = store.assignment(rid, task)
        done = store.rated(rid)
        nxt = next((i for i in order if i not in done), None)
        ctx = {"title": task.name, "done": sum(1 for i in order if i in done), "total": len(order),
               "base": f"/r/{token}", "item": None}
        if nxt is not None:
            item = task.item(nxt) or {}
            kind = item.get("type", task.type)
            sides = [("A", item.get("a") or {}), ("B", item.get("b") or {})]
            if kind == "pairwise" and pairwise_flip(task.seed, rid, nxt):
                sides = [("A", sides[1][1]), ("B", sides[0][1])]
            ctx.update(item=item, item_id=nxt, kind=kind, question=QUESTIONS[kind], sides=sides,
                       scale=list(SCALES[kind].items()))
        return render_template_string(PAGE, **ctx)

    @app.post("/r/<token>/rate")
    def rate(token: str):
        rid = rater_or_403(token)
        item_id = request.form.get("item_id", "")
        item = task.item(item_id)
        if item is None or item_id not in store.assignment(rid, task):
            abort(400)
        try:
            value = int(request.form.get("value", ""))
        except ValueError:
            abort(400)
        kind = item["type"]
        if value not in SCALES[kind]:
            abort(400)
        if kind == "pairwise" and pairwise_flip(task.seed, rid, item_id):
            value = 3 - value  # the page showed B as "A": store the system the rater chose
        store.rate(rid, item_id, value)
        return redirect(f"/r/{token}", code=303)

    @app.get("/r/<token>/progress")
    def progress(token: str):
        rid = rater_or_403(token)
        order = store.assignment(rid, task)
        done = store.rated(rid)
        return jsonify(done=sum(1 for i in order if i in done), total=len(order))

    @app.get("/r/<token>/media/<path:rel>")
    def media(token: str, rel: str):
        rater_or_403(token)
        path = resolve_media(task.media_dirs, task.root, rel)
        if path is None:
            abort(404)
        return send_file(path)

    @app.get("/admin/status")
    def admin_status():
        admin_or_403()
        return jsonify(task=task.name, **store.status())

    @app.get("/admin/export.<fmt>")
    def admin_export(fmt: str):
        admin_or_403()
        rows = store.export_rows()
        if fmt == "json":
            return Response(json.dumps({"task": task.name, "ratings": rows}), mimetype="application/json")
        if fmt == "csv":
            import csv
            import io

            from vislang.humaneval.store import EXPORT_FIELDS

            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
            return Response(buf.getvalue(), mimetype="text/csv")
        abort(404)

    @app.post("/admin/raters")
    def admin_add_rater():
        admin_or_403()
        rid, token = store.add_rater(request.form.get("name", "").strip() or "rater")
        return jsonify(id=rid, token=token, path=f"/r/{token}")

    return app


def make_server(task: Task, store: Store, host: str = "127.0.0.1", port: int = 8080, log: bool = True):
    """A threaded werkzeug server (call ``serve_forever()``; ``server_port`` holds the bound port).

    The access log replaces rater tokens by ``<token>`` (they are passwords); ``log=False`` turns it off.
    """
    import re

    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.serving import make_server as _make

    class Handler(WSGIRequestHandler):
        def log_request(self, code="-", size="-"):
            if not log:
                return
            line = getattr(self, "requestline", "") or ""
            line = re.sub(r"/r/[^/?\s]+", "/r/<token>", line).translate(self._control_char_table)
            self.log("info", '"%s" %s %s', line, code, size)

    return _make(host, port, create_app(task, store), threaded=True, request_handler=Handler)
