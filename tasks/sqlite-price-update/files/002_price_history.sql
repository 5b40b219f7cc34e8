-- 002_price_history.sql: every price change is recorded (finance audits this table)
CREATE TABLE price_history (
    id          INTEGER PRIMARY KEY,
    product_id  INTEGER NOT NULL REFERENCES products(id),
    old_price   REAL NOT NULL,
    new_price   REAL NOT NULL,
    changed_at  TEXT NOT NULL
);
CREATE TRIGGER trg_price_history AFTER UPDATE OF price ON products
WHEN old.price <> new.price
BEGIN
    INSERT INTO price_history (product_id, old_price, new_price, changed_at)
    VALUES (old.id, old.price, new.price, datetime('now'));
END;
CREATE TRIGGER trg_products_touch AFTER UPDATE ON products
WHEN new.updated_at = old.updated_at
BEGIN
    UPDATE products SET updated_at = datetime('now') WHERE id = new.id;
END;
