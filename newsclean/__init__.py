"""newsclean: clean, deduplicated, analyst-ready Parquet from scraped news."""

__version__ = "0.1.0"
