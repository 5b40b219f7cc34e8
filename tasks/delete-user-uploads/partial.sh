#!/bin/bash
# Partial: deletes her originals and her rows (uploads, album entries, shares, her albums), but leaves thumbnails, her avatar and every public link.
set -euo pipefail
cd /srv/uploads
for p in $(sqlite3 uploads.db "SELECT stored_path FROM uploads WHERE user_id = 1042 AND kind = 'photo'"); do rm -f "$p"; done
sqlite3 uploads.db "DELETE FROM album_items WHERE upload_id IN (SELECT id FROM uploads WHERE user_id = 1042);
  DELETE FROM shares WHERE upload_id IN (SELECT id FROM uploads WHERE user_id = 1042);
  DELETE FROM album_items WHERE album_id IN (SELECT id FROM albums WHERE owner_id = 1042);
  DELETE FROM albums WHERE owner_id = 1042;
  DELETE FROM uploads WHERE user_id = 1042;"
