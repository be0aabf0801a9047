"""The search query language (pure Python, no SQL)."""
