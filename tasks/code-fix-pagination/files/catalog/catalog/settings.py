from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "products.json"
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
SORT_KEYS = ("sku", "name", "price")
