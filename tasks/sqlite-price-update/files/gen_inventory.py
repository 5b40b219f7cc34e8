"""Builds the inventory database (setup only). Deterministic: the checks know every row."""
import os
import sqlite3
import sys

db = sys.argv[1]
noisy = os.environ.get("GT_CATEGORY_NOISE") == "1"
conn = sqlite3.connect(db)
conn.executescript(open(os.path.join(os.path.dirname(db), "migrations", "001_init.sql")).read())
conn.executescript(open(os.path.join(os.path.dirname(db), "migrations", "002_price_history.sql")).read())

suppliers = [(1, "Greenleaf Supply Co.", "NL"), (2, "Hartmann Werkzeuge GmbH", "DE"),
             (3, "Pacific Home Goods", "US"), (4, "Lumen & Co", "SE"), (5, "Brightpage Books", "UK")]
conn.executemany("INSERT INTO suppliers VALUES (?, ?, ?)", suppliers)

# (sku, name, category, supplier, price, stock)
products = [
    ("GDN-1001", "Stainless Hand Trowel", "Garden", 1, 12.99, 140),
    ("KIT-2001", "Cast Iron Skillet 26cm", "Kitchen", 3, 39.90, 55),
    ("TLS-3001", "Cordless Drill 18V", "Tools", 2, 89.00, 23),
    ("GDN-1002", "Bypass Pruning Shears", "Garden", 1, 24.49, 88),
    ("LGT-4001", "LED Desk Lamp", "Lighting", 4, 34.50, 61),
    ("BKS-5001", "The Garden Design Handbook", "Books", 5, 29.99, 17),
    ("GDN-1003", "Expandable Hose 30m", "Garden", 3, 44.90, 40),
    ("KIT-2002", "Chef Knife 20cm", "Kitchen", 3, 59.00, 32),
    ("GDN-1004", "Galvanised Watering Can 10L", "Garden", 1, 27.60, 57),
    ("TLS-3002", "Claw Hammer 16oz", "Tools", 2, 18.49, 120),
    ("GDN-1005", "Raised Bed Kit 120x60", "Garden", 1, 129.00, 9),
    ("LGT-4002", "Solar Path Lights (6 pack)", "Lighting", 4, 32.99, 44),
    ("GDN-1006", "Compost Bin 300L", "Garden", 3, 74.99, 15),
    ("KIT-2003", "Bamboo Cutting Board", "Kitchen", 3, 16.80, 210),
    ("GDN-1007", "Kneeling Pad", "Garden", 1, 9.99, 300),
    ("TLS-3003", "Garden-Grade Extension Cord 25m", "Tools", 2, 36.70, 28),
    ("GDN-1008", "Seed Starter Tray (10)", "Garden", 1, 7.49, 95),
    ("BKS-5002", "Kitchen Garden Cookbook", "Books", 5, 22.00, 12),
    ("GDN-1009", "Leaf Rake, Steel", "Garden", 2, 19.90, 66),
    ("LGT-4003", "Pendant Light Brass", "Lighting", 4, 119.00, 7),
    ("GDN-1010", "Terracotta Planter 40cm", "Garden", 3, 31.20, 48),
    ("KIT-2004", "Espresso Tamper", "Kitchen", 3, 14.99, 73),
    ("GDN-1011", "Wheelbarrow 90L", "Garden", 2, 98.00, 11),
    ("TLS-3004", "Socket Set 94pc", "Tools", 2, 67.30, 19),
    ("GDN-1012", "Bird Feeder, Hanging", "Garden", 1, 18.49, 70),
    ("LGT-4004", "Smart Bulb E27 (2 pack)", "Lighting", 4, 24.99, 150),
    ("KIT-2005", "Stand Mixer 5L", "Kitchen", 3, 249.00, 6),
    ("TLS-3005", "Hedge Trimmer 600W", "Tools", 2, 79.99, 14),
]
variants = {"GDN-1003": "garden", "GDN-1006": "Garden ", "GDN-1009": "GARDEN", "GDN-1011": " Garden"}
for i, (sku, name, cat, sup, price, stock) in enumerate(products, 1):
    if noisy and sku in variants:
        cat = variants[sku]
    updated = f"2024-0{1 + i % 5}-{10 + i % 18:02d} 09:{i % 60:02d}:00"
    conn.execute("INSERT INTO products (id, sku, name, category, supplier_id, price, stock, updated_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (i, sku, name, cat, sup, price, stock, updated))
history = [(1, 11.99, 12.99, "2024-01-15 10:00:00"), (5, 29.50, 34.50, "2024-02-01 10:00:00"),
           (11, 119.00, 129.00, "2024-03-01 10:00:00"), (27, 229.00, 249.00, "2024-03-20 10:00:00"),
           (7, 39.90, 44.90, "2024-04-02 10:00:00"), (16, 34.95, 36.70, "2024-04-18 10:00:00")]
conn.executemany("INSERT INTO price_history (product_id, old_price, new_price, changed_at) VALUES (?, ?, ?, ?)",
                 history)
conn.commit()
conn.close()
