"""Review app: pages, media confinement, decisions saved atomically and kept on restart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vfbench.collect.review.app import HOST, MAX_BODY, TOKEN_HEADER, create_app, make_server
from vfbench.collect.review.decisions import load_decisions
from vfbench.errors import VfbenchError


@pytest.fixture
def coll_copy(collection: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "coll"
    shutil.copytree(collection, dst)
    (tmp_path / "secret.txt").write_text("outside DIR")
    return dst


def _client(coll: Path) -> tuple:
    """A test client and the headers a page of this server sends with a decision."""
    app = create_app(coll)
    return app.test_client(), {TOKEN_HEADER: app.config["REVIEW_TOKEN"]}


def _first_kept(coll: dict, kind: str) -> dict:
    return next(x for i in coll["identities"] for x in i[kind] if x["status"] == "kept")


def test_pages_list_identities_and_items(coll_copy: Path, coll_json: dict) -> None:
    c = create_app(coll_copy).test_client()
    r = c.get("/")
    assert r.status_code == 200 and b"spk_m" in r.data and b"spk_f" in r.data
    r = c.get("/identity/spk_m")
    page = r.data.decode()
    face, voice = _first_kept(coll_json, "faces"), _first_kept(coll_json, "voices")
    assert f'data-id="{face["id"]}"' in page and f'data-id="{voice["id"]}"' in page
    assert "<audio controls" in page and "Shift+R" in page  # shortcuts are on the page
    assert c.get("/identity/nobody").status_code == 404


def test_media_only_listed_files_inside_dir(coll_copy: Path, coll_json: dict) -> None:
    c = create_app(coll_copy).test_client()
    face = _first_kept(coll_json, "faces")
    r = c.get(f"/media/{face['file']}")
    assert r.status_code == 200 and r.data[:2] == b"\xff\xd8"  # a JPEG
    voice = _first_kept(coll_json, "voices")
    assert c.get(f"/media/{voice['file']}").data[:4] == b"RIFF"
    for bad in (
        "/media/../secret.txt",
        "/media/..%2fsecret.txt",
        "/media/videos/../../secret.txt",
        "/media/collection.json",
        "/media/review.json",
        "/media//etc/passwd",
        "/media/%2Fetc%2Fpasswd",
        "/static/../collection.json",
        "/static/..%2f..%2fapp.py",
    ):
        r = c.get(bad, follow_redirects=True)  # werkzeug redirects "//" to "/" first
        assert r.status_code in (403, 404), bad
        assert b"outside DIR" not in r.data
    # a rejected face has no file; its would-be name is not served either
    rejected = next(
        f for i in coll_json["identities"] for f in i["faces"] if f["status"] == "rejected"
    )
    name = f"videos/{rejected['video']}/faces/t{rejected['track']}_0000.jpg"
    if name not in {f["file"] for i in coll_json["identities"] for f in i["faces"]}:
        assert c.get(f"/media/{name}").status_code == 404


def test_decisions_persist_across_restart(coll_copy: Path, coll_json: dict) -> None:
    face = _first_kept(coll_json, "faces")
    c, h = _client(coll_copy)
    r = c.post(
        "/api/decision", json={"kind": "item", "id": face["id"], "decision": "reject"}, headers=h
    )
    assert r.status_code == 200
    r = c.post(
        "/api/decision", json={"kind": "identity", "id": "spk_f", "decision": "accept"}, headers=h
    )
    assert r.status_code == 200
    on_disk = json.loads((coll_copy / "review.json").read_text())
    assert on_disk["items"] == {face["id"]: "reject"} and on_disk["identities"] == {
        "spk_f": "accept"
    }
    assert not list(coll_copy.glob(".review.json.*"))  # no temp file left behind
    c2, h2 = _client(coll_copy)  # "restart": a new token
    assert h2 != h
    page = c2.get("/identity/spk_m").data.decode()
    assert f'class="item face reject" tabindex="0" data-id="{face["id"]}"' in page
    assert c2.get("/api/decisions").get_json()["items"] == {face["id"]: "reject"}
    assert (
        c2.post(
            "/api/decision", json={"kind": "item", "id": face["id"], "decision": None}, headers=h
        ).status_code
        == 403
    )  # the old server's token is void
    c2.post("/api/decision", json={"kind": "item", "id": face["id"], "decision": None}, headers=h2)
    assert load_decisions(coll_copy).items == {}


def test_bad_decisions_rejected(coll_copy: Path) -> None:
    c, h = _client(coll_copy)

    def post(body: object) -> object:
        return c.post("/api/decision", json=body, headers=h)

    r = post({"kind": "item", "id": "nope", "decision": "reject"})
    assert r.status_code == 404 and b"nope" not in r.data  # unknown ids are not echoed
    assert post({"kind": "identity", "id": "x", "decision": "reject"}).status_code == 404
    r = post({"kind": "identity", "id": "spk_m", "decision": "maybe"})
    assert r.status_code == 400 and "'decision' must be" in r.get_json()["error"]
    assert b"maybe" not in r.data
    r = c.post(
        "/api/decision",
        data="kind=item",
        content_type="application/x-www-form-urlencoded",
        headers=h,
    )
    assert r.status_code == 415
    assert not (coll_copy / "review.json").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"id": ["x"], "kind": "item", "decision": "reject"},  # unhashable id
        {"id": {"a": 1}, "kind": "identity", "decision": "accept"},
        {},
        {"id": "spk_m"},
        {"kind": "identity", "id": "spk_m", "decision": "accept", "extra": 1},
        {"kind": ["item"], "id": "spk_m", "decision": "accept"},
        {"kind": "identity", "id": "spk_m", "decision": ["accept"]},
        {"kind": "identity", "id": "x" * 600, "decision": "accept"},
        [],
        "reject",
        None,
        12,
    ],
)
def test_malformed_bodies_are_400(coll_copy: Path, body: object) -> None:
    c, h = _client(coll_copy)
    raw = json.dumps(body)
    r = c.post("/api/decision", data=raw, content_type="application/json", headers=h)
    assert r.status_code == 400, r.data
    assert set(r.get_json()) == {"error"}
    assert not (coll_copy / "review.json").exists()


def test_deep_nesting_and_broken_json_are_400(coll_copy: Path) -> None:
    c, h = _client(coll_copy)
    # 2000 levels: the parser's RecursionError; broken JSON; not UTF-8
    for raw in ("[" * 2000 + "]" * 2000, "{", b"\xff\xfe"):
        r = c.post("/api/decision", data=raw, content_type="application/json", headers=h)
        assert r.status_code == 400
        assert r.get_json() == {"error": "body is not valid UTF-8 JSON"}
    # nested but parseable: a wrong shape
    raw = '{"kind": ' * 400 + "1" + "}" * 400
    r = c.post("/api/decision", data=raw, content_type="application/json", headers=h)
    assert r.status_code == 400 and "expected exactly the keys" in r.get_json()["error"]


def test_big_body_capped_and_not_echoed(coll_copy: Path) -> None:
    c, h = _client(coll_copy)
    marker = "SECRET-MARKER-"
    big = json.dumps({"kind": "item", "id": marker * 2000, "decision": "reject"})
    assert len(big) > MAX_BODY
    for url in ("/api/decision", "/api/nothing-here", "/identity/spk_m"):
        r = c.post(url, data=big, content_type="application/json", headers=h)
        assert r.status_code in (404, 405, 413), url
        assert marker.encode() not in r.data and len(r.data) < 200
    r = c.post("/api/decision", data=big, content_type="application/json", headers=h)
    assert r.status_code == 413
    # a 404 never repeats the request
    r = c.get("/identity/" + marker, headers=h)
    assert r.status_code == 404 and marker.encode() not in r.data


def test_cross_origin_and_tokenless_posts_refused(coll_copy: Path, coll_json: dict) -> None:
    c, h = _client(coll_copy)
    face = _first_kept(coll_json, "faces")
    body = {"kind": "item", "id": face["id"], "decision": "reject"}
    for extra in (
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:9999"},  # another local port is another origin
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        r = c.post("/api/decision", json=body, headers={**h, **extra})
        assert r.status_code == 403, extra
    assert c.post("/api/decision", json=body).status_code == 403  # no token
    assert c.post("/api/decision", json=body, headers={TOKEN_HEADER: "guess"}).status_code == 403
    assert not (coll_copy / "review.json").exists()
    # the page's own request: same Origin, same-origin fetch, its token
    ok = {**h, "Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert c.post("/api/decision", json=body, headers=ok).status_code == 200
    # the token is in the page the browser loads
    page = c.get("/identity/spk_m").data.decode()
    assert f'<meta name="review-token" content="{h[TOKEN_HEADER]}">' in page


def test_pages_cannot_be_framed_and_run_under_csp(coll_copy: Path, coll_json: dict) -> None:
    c, _ = _client(coll_copy)
    face = _first_kept(coll_json, "faces")
    for url in ("/", "/identity/spk_m", f"/media/{face['file']}", "/api/decisions", "/nope"):
        r = c.get(url)
        assert r.headers["X-Frame-Options"] == "DENY", url
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    # nothing inline that the policy would block
    page = c.get("/identity/spk_m").data.decode()
    assert "<script>" not in page and " style=" not in page and "onclick" not in page


def test_long_names_wrap_inside_cards(coll_copy: Path) -> None:
    css = (Path(__file__).parents[2] / "src/vfbench/collect/review/static/review.css").read_text()
    assert ".item .meta" in css and "overflow-wrap: anywhere" in css


def test_foreign_host_header_refused(coll_copy: Path) -> None:
    c = create_app(coll_copy).test_client()
    assert c.get("/", headers={"Host": "attacker.example"}).status_code == 403
    assert c.get("/", headers={"Host": "localhost:8765"}).status_code == 200


def test_server_binds_loopback_only(coll_copy: Path) -> None:
    srv = make_server(coll_copy, 0)
    try:
        assert srv.server_address[0] == HOST == "127.0.0.1"
    finally:
        srv.server_close()


def test_broken_review_file_names_itself(coll_copy: Path) -> None:
    (coll_copy / "review.json").write_text('{"items": {"a": "perhaps"}}')
    with pytest.raises(VfbenchError, match=r"review.json: items\['a'\] = 'perhaps'"):
        load_decisions(coll_copy)
    (coll_copy / "review.json").write_text("{")
    with pytest.raises(VfbenchError, match="review.json: not valid JSON"):
        create_app(coll_copy)


def test_not_a_collection(tmp_path: Path) -> None:
    with pytest.raises(VfbenchError, match="not a collection folder"):
        create_app(tmp_path)
