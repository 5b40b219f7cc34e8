#!/bin/bash
# Partial: deletes the messages and previews, but not the FTS5 rows (no trigger keeps them in sync).
set -euo pipefail
sqlite3 /srv/chat/chat.db "DELETE FROM notifications WHERE conversation_id = 5; DELETE FROM messages WHERE conversation_id = 5;"
