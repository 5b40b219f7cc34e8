-- 001_init.sql: core catalogue tables
CREATE TABLE suppliers (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    country TEXT
);
CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    supplier_id INTEGER REFERENCES suppliers(id),
    price       REAL NOT NULL CHECK (price >= 0),
    stock       INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL
);
CREATE INDEX idx_products_category ON products(category);
CREATE VIEW v_category_value AS
    SELECT category, count(*) AS products, round(sum(price * stock), 2) AS stock_value
      FROM products GROUP BY category;
