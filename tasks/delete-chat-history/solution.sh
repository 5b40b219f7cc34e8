#!/bin/bash
# Reference: delete the conversation from every table that holds its text (FTS5 has no trigger), in one
# transaction on the live WAL database, then rewrite the index and the file so no old copy of a page remains.
set -euo pipefail
DB=/srv/chat/chat.db
CID=$(sqlite3 "$DB" "SELECT id FROM conversations WHERE title = 'hr-case-0193'")
test -n "$CID"
sqlite3 "$DB" <<SQL
PRAGMA secure_delete = ON;
BEGIN;
DELETE FROM messages_fts WHERE conversation_id = $CID;
DELETE FROM notifications WHERE conversation_id = $CID;
DELETE FROM messages WHERE conversation_id = $CID;
COMMIT;
INSERT INTO messages_fts(messages_fts) VALUES ('optimize');
VACUUM;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
test "$(sqlite3 "$DB" "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'retaliation'")" = 0
! grep -rqa "diversity quota" /srv/chat
