"""Full-text search (``text.py``: what is searched and how words compare; ``index.py``: the
index in SQLite or PostgreSQL; ``indexer.py``: keeping it, and the tags, up to date after
each write; ``routes.py``: ``GET /search``)."""
