"""Review app: pages, media confinement, decisions saved atomically and kept on restart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vfbench.collect.review.app import HOST, create_app, make_server
from vfbench.collect.review.decisions import load_decisions
from vfbench.errors import VfbenchError


@pytest.fixture
def coll_copy(collection: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "coll"
    shutil.copytree(collection, dst)
    (tmp_path / "secret.txt").write_text("outside DIR")
    return dst


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
    c = create_app(coll_copy).test_client()
    r = c.post("/api/decision", json={"kind": "item", "id": face["id"], "decision": "reject"})
    assert r.status_code == 200
    r = c.post("/api/decision", json={"kind": "identity", "id": "spk_f", "decision": "accept"})
    assert r.status_code == 200
    on_disk = json.loads((coll_copy / "review.json").read_text())
    assert on_disk["items"] == {face["id"]: "reject"} and on_disk["identities"] == {
        "spk_f": "accept"
    }
    assert not list(coll_copy.glob(".review.json.*"))  # no temp file left behind
    c2 = create_app(coll_copy).test_client()  # "restart"
    page = c2.get("/identity/spk_m").data.decode()
    assert f'class="item face reject" tabindex="0" data-id="{face["id"]}"' in page
    assert c2.get("/api/decisions").get_json()["items"] == {face["id"]: "reject"}
    c2.post("/api/decision", json={"kind": "item", "id": face["id"], "decision": None})
    assert load_decisions(coll_copy).items == {}


def test_bad_decisions_rejected(coll_copy: Path) -> None:
    c = create_app(coll_copy).test_client()
    assert (
        c.post(
            "/api/decision", json={"kind": "item", "id": "nope", "decision": "reject"}
        ).status_code
        == 404
    )
    assert (
        c.post(
            "/api/decision", json={"kind": "identity", "id": "x", "decision": "reject"}
        ).status_code
        == 404
    )
    r = c.post("/api/decision", json={"kind": "identity", "id": "spk_m", "decision": "maybe"})
    assert r.status_code == 400 and "maybe" in r.get_json()["error"]
    assert (
        c.post(
            "/api/decision", data="kind=item", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 400
    )
    assert not (coll_copy / "review.json").exists()


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
