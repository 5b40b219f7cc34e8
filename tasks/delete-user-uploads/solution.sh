#!/bin/bash
# Reference: resolve her uploads from the metadata, delete every file and link derived from them, then the rows.
set -euo pipefail
cd /srv/uploads
UID_=$(sqlite3 uploads.db "SELECT id FROM users WHERE handle = 'kestrel_ana'")
mapfile -t IDS < <(sqlite3 uploads.db "SELECT id FROM uploads WHERE user_id = $UID_")
mapfile -t PATHS < <(sqlite3 uploads.db "SELECT stored_path FROM uploads WHERE user_id = $UID_")
# public links first (they would dangle otherwise): any symlink resolving into one of her stored files
for p in "${PATHS[@]}"; do
  find public -type l -lname "*/$p" -delete
done
for id in "${IDS[@]}"; do
  rm -f "originals/${id:0:2}/${id:2:2}/$id.jpg"
  find thumbs -name "${id}_*" -delete
done
for p in "${PATHS[@]}"; do rm -f "$p"; done
# her own albums are now empty; drop their directories and the per-user avatar folder
for slug in $(sqlite3 uploads.db "SELECT slug FROM albums WHERE owner_id = $UID_"); do rmdir "public/albums/$slug"; done
rmdir public/u/kestrel_ana 2>/dev/null || true
find originals thumbs -mindepth 1 -type d -empty -delete
sqlite3 uploads.db <<SQL
BEGIN;
DELETE FROM album_items WHERE upload_id IN (SELECT id FROM uploads WHERE user_id = $UID_);
DELETE FROM shares WHERE upload_id IN (SELECT id FROM uploads WHERE user_id = $UID_);
DELETE FROM album_items WHERE album_id IN (SELECT id FROM albums WHERE owner_id = $UID_);
DELETE FROM albums WHERE owner_id = $UID_;
DELETE FROM uploads WHERE user_id = $UID_;
COMMIT;
SQL
for id in "${IDS[@]}"; do ! find /srv/uploads -name "*$id*" | grep -q .; done
! find -L /srv/uploads -type l | grep -q .
