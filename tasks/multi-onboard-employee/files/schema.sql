CREATE TABLE IF NOT EXISTS users (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    department   TEXT NOT NULL,
    title        TEXT NOT NULL DEFAULT '',
    start_date   TEXT NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1,
    is_admin     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS users_department ON users(department);
