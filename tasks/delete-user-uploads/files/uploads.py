"""Deterministic photo-site storage: sharded originals, thumbnails, avatars and a public symlink farm.
Run in the sandbox it builds /srv/uploads; imported by the checks it lists what setup wrote."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3

ROOT = "/srv/uploads"
TARGET_USER = 1042
USERS = [(1017, "moss_ferran", "active"), (1029, "tidepool", "active"), (1042, "kestrel_ana", "closed"),
         (1051, "juniper.k", "active"), (1066, "okonkwo_e", "active")]
SIZES = (256, 1024)
_NAMES = ["IMG_{:04d}.jpg", "DSC{:05d}.jpg", "PXL_2023{:04d}.jpg", "photo-{:03d}.jpg"]


def _rng(tag: str) -> random.Random:
    return random.Random(f"uploads:{tag}")


def _blob(tag: str, head: bytes, tail: bytes, lo: int, hi: int) -> bytes:
    r = _rng(tag)
    return head + r.randbytes(r.randrange(lo, hi)) + tail


def uploads() -> list[dict]:
    """Every upload row: photos (original + thumbnails) and avatars."""
    out = []
    counts = {1017: 6, 1029: 5, 1042: 7, 1051: 6, 1066: 4}
    for uid, _handle, _ in USERS:
        r = _rng(f"user{uid}")
        for _n in range(counts[uid]):
            upid = f"{r.getrandbits(48):012x}"
            out.append({"id": upid, "user_id": uid, "kind": "photo",
                        "original_name": r.choice(_NAMES).format(r.randrange(1, 9999)),
                        "stored_path": f"originals/{upid[:2]}/{upid[2:4]}/{upid}.jpg",
                        "created_at": f"2023-{r.randrange(3, 12):02d}-{r.randrange(1, 29):02d}T"
                                      f"{r.randrange(6, 23):02d}:{r.randrange(60):02d}:00Z"})
        upid = f"{r.getrandbits(48):012x}"
        out.append({"id": upid, "user_id": uid, "kind": "avatar", "original_name": "me.png",
                    "stored_path": f"avatars/{uid}.png", "created_at": "2023-02-14T10:00:00Z"})
    return out


def files() -> dict[str, bytes]:
    """Relative path -> content of every regular file setup writes (besides the db and config)."""
    out = {}
    for u in uploads():
        if u["kind"] == "avatar":
            out[u["stored_path"]] = _blob(u["id"], b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82", 600, 1500)
            continue
        out[u["stored_path"]] = _blob(u["id"], b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\xff\xd9", 2000, 4000)
        for size in SIZES:
            out[thumb_path(u["id"], size)] = _blob(f"{u['id']}/{size}", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"",
                                                   size // 4, size // 2)
    return out


def thumb_path(upid: str, size: int) -> str:
    return f"thumbs/{size}/{upid[:2]}/{upid}_{size}.webp"


def albums() -> list[dict]:
    ups = [u for u in uploads() if u["kind"] == "photo"]
    mine = lambda uid: [u["id"] for u in ups if u["user_id"] == uid]  # noqa: E731
    a17, a29, a42, a51, a66 = mine(1017), mine(1029), mine(1042), mine(1051), mine(1066)
    return [
        {"id": 1, "slug": "climbing-club-2023", "owner_id": 1017, "title": "Climbing club 2023",
         "items": [a17[0], a42[0], a51[0], a42[3], a17[1], a51[1]]},
        {"id": 2, "slug": "ana-fontainebleau", "owner_id": 1042, "title": "Fontainebleau, spring",
         "items": a42[:4]},
        {"id": 3, "slug": "ana-portraits", "owner_id": 1042, "title": "Portraits", "items": a42[4:]},
        {"id": 4, "slug": "harbour-walks", "owner_id": 1029, "title": "Harbour walks", "items": a29},
        {"id": 5, "slug": "juniper-garden", "owner_id": 1051, "title": "Garden", "items": a51[2:]},
        {"id": 6, "slug": "lagos-trip", "owner_id": 1066, "title": "Lagos trip", "items": [*a66, a17[2]]},
    ]


def shares() -> list[tuple[str, str]]:
    r = _rng("shares")
    ups = {u["user_id"]: [x["id"] for x in uploads() if x["user_id"] == u["user_id"] and x["kind"] == "photo"]
           for u in uploads()}
    picks = [ups[1042][1], ups[1029][0], ups[1042][5], ups[1051][3], ups[1017][4]]
    return [(f"{r.getrandbits(64):016x}", upid) for upid in picks]


def links() -> dict[str, str]:
    """Relative symlink path -> link target of the public farm."""
    by_id = {u["id"]: u for u in uploads()}
    out = {}
    for a in albums():
        for pos, upid in enumerate(a["items"], 1):
            out[f"public/albums/{a['slug']}/{pos:02d}-{by_id[upid]['original_name']}"] = \
                f"../../../{by_id[upid]['stored_path']}"
    for token, upid in shares():
        out[f"public/s/{token}.jpg"] = f"../../{by_id[upid]['stored_path']}"
    for uid, handle, _ in USERS:
        out[f"public/u/{handle}/avatar.png"] = f"../../../avatars/{uid}.png"
    return out


def target_ids() -> set[str]:
    return {u["id"] for u in uploads() if u["user_id"] == TARGET_USER}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    for rel, data in files().items():
        path = os.path.join(ROOT, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    for rel, target in links().items():
        path = os.path.join(ROOT, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)
    blobs = files()
    db = sqlite3.connect(os.path.join(ROOT, "uploads.db"))
    db.executescript("""
        CREATE TABLE users (id INTEGER PRIMARY KEY, handle TEXT UNIQUE NOT NULL, status TEXT NOT NULL);
        CREATE TABLE uploads (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
            kind TEXT NOT NULL CHECK (kind IN ('photo', 'avatar')), original_name TEXT NOT NULL,
            stored_path TEXT NOT NULL, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE TABLE albums (id INTEGER PRIMARY KEY, slug TEXT UNIQUE NOT NULL, owner_id INTEGER NOT NULL,
            title TEXT NOT NULL);
        CREATE TABLE album_items (album_id INTEGER NOT NULL REFERENCES albums(id),
            upload_id TEXT NOT NULL REFERENCES uploads(id), position INTEGER NOT NULL);
        CREATE TABLE shares (token TEXT PRIMARY KEY, upload_id TEXT NOT NULL REFERENCES uploads(id),
            created_at TEXT NOT NULL);
    """)
    db.executemany("INSERT INTO users VALUES (?, ?, ?)", USERS)
    db.executemany("INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [(u["id"], u["user_id"], u["kind"], u["original_name"], u["stored_path"],
                     len(blobs[u["stored_path"]]), sha(blobs[u["stored_path"]]), u["created_at"]) for u in uploads()])
    for a in albums():
        db.execute("INSERT INTO albums VALUES (?, ?, ?, ?)", (a["id"], a["slug"], a["owner_id"], a["title"]))
        db.executemany("INSERT INTO album_items VALUES (?, ?, ?)",
                       [(a["id"], upid, pos) for pos, upid in enumerate(a["items"], 1)])
    db.executemany("INSERT INTO shares VALUES (?, ?, '2023-12-01T12:00:00Z')", shares())
    db.commit()
    db.close()


if __name__ == "__main__":
    main()
