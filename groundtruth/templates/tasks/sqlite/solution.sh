#!/bin/bash
set -e
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("/workspace/shop.db")
db.execute("update customers set name = 'deleted', email = NULL, phone = NULL where id = 2")
db.commit()
db.execute("vacuum")  # the old values stay in free space until the file is rewritten
db.close()
PY
