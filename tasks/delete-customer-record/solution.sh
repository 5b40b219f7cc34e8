#!/bin/bash
# Reference: find every store the shop config names, then erase customer 417 from each of them.
set -euo pipefail
EMAIL="m.vollmer@mailbox.example"
CID=$(sqlite3 /srv/shop/shop.db "SELECT customer_id FROM customers WHERE email = '$EMAIL'")
test -n "$CID"
# Orders stay for bookkeeping; only the personal record goes.
sqlite3 /srv/shop/shop.db "DELETE FROM customers WHERE customer_id = $CID; VACUUM;"
python3 - "$CID" <<'PY'
import configparser, csv, glob, io, json, os, sys
cid = sys.argv[1]
cp = configparser.ConfigParser(); cp.read("/etc/shop/shop.conf")
for path in glob.glob(os.path.join(cp.get("export", "dir"), "*.csv")):
    rows = list(csv.reader(open(path, newline="")))
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0] != cid]
    buf = io.StringIO(); csv.writer(buf, lineterminator="\n").writerows(kept)
    open(path, "w").write(buf.getvalue())
if cp.has_option("cache", "profiles"):
    p = os.path.join(cp.get("cache", "profiles"), f"{cid}.json")
    if os.path.exists(p):
        os.remove(p)
if cp.has_option("search", "index"):
    p = cp.get("search", "index")
    idx = json.load(open(p))
    idx["docs"].pop(cid, None)
    terms = {}
    for t, ids in idx["terms"].items():
        ids = [i for i in ids if i != int(cid)]
        if ids:
            terms[t] = ids
    idx["terms"] = terms
    json.dump(idx, open(p, "w"), separators=(",", ":"))
PY
! grep -rIil -e margarethe -e "$EMAIL" /srv/shop --exclude='shop.db*'
