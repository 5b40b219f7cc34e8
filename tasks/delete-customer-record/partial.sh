#!/bin/bash
# Partial: erases her from the database only; every copy still serves her record.
set -euo pipefail
sqlite3 /srv/shop/shop.db "DELETE FROM customers WHERE email = 'm.vollmer@mailbox.example';"
