"""``vfbench collect review DIR``: a local Flask app to accept/reject collected items.

Pages: ``/`` lists identities with counts and identity-level decisions; ``/identity/<id>``
shows a grid of the kept faces and playable voice clips of one identity. Decisions go to
``POST /api/decision`` and are saved atomically to ``DIR/review.json``
(:class:`DecisionStore`), so they survive a restart.

Safety: the server binds to 127.0.0.1 only; ``/media/<path>`` serves only the media files
``collection.json`` lists as kept items, resolved inside DIR (anything else, ``../``
included, is a 404); requests whose Host is not localhost are refused (DNS rebinding).
Every state-changing request must (1) carry the per-server random token the pages embed
(``X-Review-Token`` header), (2) come from this origin when the browser says where it
comes from (``Origin`` / ``Sec-Fetch-Site``) and (3) be a JSON object of exactly the
expected shape, at most :data:`MAX_BODY` bytes; anything else is a 4xx whose message never
repeats the input. Every reply forbids framing (``X-Frame-Options: DENY``, CSP
``frame-ancestors 'none'``) and runs under a restrictive Content-Security-Policy (own
scripts, styles and media only).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from pathlib import Path
from typing import Any

from vfbench.collect.pipeline import load_collection
from vfbench.collect.review.decisions import DECISIONS, DecisionStore
from vfbench.errors import PathEscapeError, VfbenchError
from vfbench.utils.io import resolve_under

HOST = "127.0.0.1"
_ALLOWED_HOSTS = ("127.0.0.1", "localhost")
MAX_BODY = 4096  # bytes: a decision is ~100
MAX_ID_LEN = 512
TOKEN_HEADER = "X-Review-Token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_DECISION_KEYS = {"kind", "id", "decision"}


def parse_decision(raw: bytes) -> tuple[str, str, str | None]:
    """``(kind, id, decision)`` of a decision body, or :class:`ValueError` with a message
    that describes the problem without quoting the input.

    Expected: a JSON object with exactly ``kind`` ("item" | "identity"), ``id`` (a string of
    at most :data:`MAX_ID_LEN` characters) and ``decision`` ("accept" | "reject" | null).
    Deeply nested JSON (RecursionError in the parser) is a ValueError too.
    """
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise ValueError("body is not valid UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    if set(body) != _DECISION_KEYS:
        raise ValueError("expected exactly the keys 'kind', 'id' and 'decision'")
    kind, key, decision = body["kind"], body["id"], body["decision"]
    if kind not in ("item", "identity") or not isinstance(kind, str):
        raise ValueError("'kind' must be 'item' or 'identity'")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_ID_LEN:
        raise ValueError(f"'id' must be a string of 1..{MAX_ID_LEN} characters")
    if decision is not None and (not isinstance(decision, str) or decision not in DECISIONS):
        raise ValueError("'decision' must be 'accept', 'reject' or null")
    return kind, key, decision


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
    from werkzeug.exceptions import HTTPException

    root = Path(collection_dir).resolve()
    coll = load_collection(root)
    store = DecisionStore(root)
    here = Path(__file__).parent
    app = Flask(
        "vfbench_review",
        template_folder=str(here / "templates"),
        static_folder=str(here / "static"),
    )
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY
    token = secrets.token_urlsafe(24)
    app.config["REVIEW_TOKEN"] = token
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
    def _only_local() -> Any:
        host = (request.host or "").rsplit(":", 1)[0].strip("[]")
        if host not in _ALLOWED_HOSTS:
            abort(403)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            # state-changing: same origin only, and the page's token
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                return jsonify({"error": "cross-origin request refused"}), 403
            site = request.headers.get("Sec-Fetch-Site")
            if site is not None and site not in ("same-origin", "none"):
                return jsonify({"error": "cross-site request refused"}), 403
            if not secrets.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
                return jsonify({"error": f"missing or wrong {TOKEN_HEADER} header"}), 403
            n = request.content_length
            if n is None and request.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return jsonify({"error": "chunked bodies are not accepted"}), 411
            if n is not None and n > MAX_BODY:
                return jsonify({"error": f"body larger than {MAX_BODY} bytes"}), 413
        return None

    @app.after_request
    def _headers(resp: Any) -> Any:
        for k, v in SECURITY_HEADERS.items():
            resp.headers[k] = v
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        # a fixed message per status: never echo the request back
        code = exc.code or 500
        return jsonify({"error": f"{code} {exc.name}"}), code

    @app.context_processor
    def _token() -> dict[str, str]:
        return {"review_token": token}

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
        if not request.is_json:
            return jsonify({"error": "expected Content-Type: application/json"}), 415
        try:
            kind, key, decision = parse_decision(request.get_data(cache=False))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        if kind == "item" and key not in items:
            return jsonify({"error": "unknown item id"}), 404
        if kind == "identity" and key not in idents:
            return jsonify({"error": "unknown identity"}), 404
        try:
            store.set(kind, key, decision)
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
