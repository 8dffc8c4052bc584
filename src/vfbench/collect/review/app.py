"""``vfbench collect review DIR``: a local Flask app to accept/reject collected items.

Pages: ``/`` lists identities with counts and identity-level decisions; ``/identity/<id>``
shows a grid of the kept faces and playable voice clips of one identity. Decisions go to
``POST /api/decision`` and are saved atomically to ``DIR/review.json``
(:class:`DecisionStore`), so they survive a restart.

Safety: the server binds to 127.0.0.1 only; ``/media/<path>`` serves only the media files
``collection.json`` lists as kept items, resolved inside DIR (anything else, ``../``
included, is a 404); requests whose Host is not localhost are refused (DNS rebinding);
decisions must be posted as JSON (a cross-site form cannot send that without CORS).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from vfbench.collect.pipeline import load_collection
from vfbench.collect.review.decisions import DecisionStore
from vfbench.errors import PathEscapeError, VfbenchError
from vfbench.utils.io import resolve_under

HOST = "127.0.0.1"
_ALLOWED_HOSTS = ("127.0.0.1", "localhost")

SHORTCUTS = [
    ("→ / l / j", "next item"),
    ("← / h / k", "previous item"),
    ("a", "accept the focused item"),
    ("r / x", "reject the focused item"),
    ("u", "clear the focused item's decision"),
    ("space", "play / pause the focused voice clip"),
    ("Shift+A", "accept the whole identity"),
    ("Shift+R", "reject the whole identity"),
    ("n / p", "next / previous identity"),
    ("?", "show / hide this help"),
]


def create_app(collection_dir: str | Path) -> Any:
    """The Flask app for one collection folder (raises if DIR is not a collection)."""
    from flask import Flask, abort, jsonify, redirect, render_template, request, send_file, url_for

    root = Path(collection_dir).resolve()
    coll = load_collection(root)
    store = DecisionStore(root)
    here = Path(__file__).parent
    app = Flask(
        "vfbench_review",
        template_folder=str(here / "templates"),
        static_folder=str(here / "static"),
    )
    idents: dict[str, dict[str, Any]] = {}
    items: dict[str, str] = {}  # item id -> identity
    media: set[str] = set()
    for ident in coll["identities"]:
        faces = [f for f in ident["faces"] if f["status"] == "kept" and f.get("file")]
        voices = [v for v in ident["voices"] if v["status"] == "kept" and v.get("file")]
        idents[ident["id"]] = {**ident, "kept_faces": faces, "kept_voices": voices}
        for it in faces + voices:
            items[it["id"]] = ident["id"]
            media.add(it["file"])
    order = list(idents)

    @app.before_request
    def _only_local() -> None:
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if host not in _ALLOWED_HOSTS:
            abort(403)

    @app.get("/")
    def index() -> Any:
        d = store.decisions
        rows = []
        for iid, ident in idents.items():
            ids = [it["id"] for it in ident["kept_faces"] + ident["kept_voices"]]
            rows.append(
                {
                    "id": iid,
                    "gender": ident.get("gender", ""),
                    "language": ident.get("language", ""),
                    "faces": len(ident["kept_faces"]),
                    "voices": len(ident["kept_voices"]),
                    "rejected": sum(d.items.get(i) == "reject" for i in ids),
                    "decision": d.identities.get(iid, ""),
                }
            )
        return render_template("index.html", rows=rows, shortcuts=SHORTCUTS)

    @app.get("/identity/<iid>")
    def identity(iid: str) -> Any:
        if iid not in idents:
            abort(404)
        k = order.index(iid)
        return render_template(
            "identity.html",
            ident=idents[iid],
            decisions=store.decisions,
            prev_id=order[k - 1] if k > 0 else None,
            next_id=order[k + 1] if k + 1 < len(order) else None,
            shortcuts=SHORTCUTS,
        )

    @app.get("/media/<path:rel>")
    def media_file(rel: str) -> Any:
        if rel not in media:
            abort(404)
        try:
            p = resolve_under(root, rel)
        except PathEscapeError:
            abort(404)
        if not p.is_file():
            abort(404)
        return send_file(p, conditional=True)

    @app.get("/api/decisions")
    def get_decisions() -> Any:
        return jsonify(store.decisions.to_dict())

    @app.post("/api/decision")
    def post_decision() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"error": "expected a JSON object"}), 400
        kind, key, decision = body.get("kind"), body.get("id"), body.get("decision")
        if kind == "item" and key not in items:
            return jsonify({"error": f"unknown item {key!r}"}), 404
        if kind == "identity" and key not in idents:
            return jsonify({"error": f"unknown identity {key!r}"}), 404
        try:
            store.set(str(kind), str(key), decision)
        except VfbenchError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"ok": True, "kind": kind, "id": key, "decision": decision})

    @app.get("/identity/")
    def identity_root() -> Any:
        return redirect(url_for("index"))

    return app


def make_server(collection_dir: str | Path, port: int = 0) -> Any:
    """A werkzeug server for the app bound to 127.0.0.1 (``port`` 0 = a free port).

    Call ``serve_forever()`` (blocking) or :func:`start_in_thread`; ``server.port`` is the
    bound port.
    """
    import logging

    from werkzeug.serving import make_server as _mk

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    return _mk(HOST, port, create_app(collection_dir), threaded=True)


def start_in_thread(collection_dir: str | Path, port: int = 0) -> tuple[Any, threading.Thread]:
    """Start the server in a daemon thread; returns (server, thread). Stop with
    ``server.shutdown()``."""
    srv = make_server(collection_dir, port)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    return srv, th


def serve(collection_dir: str | Path, port: int = 8765) -> None:
    """Serve until Ctrl-C (blocking)."""
    srv = make_server(collection_dir, port)
    try:
        srv.serve_forever()
    finally:
        srv.server_close()
