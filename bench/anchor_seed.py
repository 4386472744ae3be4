"""Seeds the Flask Mega-Tutorial's microblog the way bench/http_load.py seeds quartapp.

Run by microblog's own Python in its checkout, after ``flask db upgrade``, on the database
that ``DATABASE_URL`` names (bench/anchor.py does all three). Reads JSON on stdin:
``{"usernames": [...], "password": "...", "posts": ["body", ...]}``. Every user gets the
same real password hash, made the app's way (``User.set_password``: werkzeug's default,
scrypt); post n (from 0) is by user n mod the number of users, a minute newer than post
n - 1, the newest one minute old, language ``en`` (what the app's ``langdetect`` makes of
English). Only microblog's code is imported (dynamically: it is not installed where this
file is type-checked), and only its models are used, in two bulk inserts.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def main() -> None:
    sys.path.insert(0, str(Path.cwd()))  # the checkout: microblog's app package and config
    application: Any = importlib.import_module("app")
    models: Any = importlib.import_module("app.models")
    sqlalchemy: Any = importlib.import_module("sqlalchemy")
    wanted = json.load(sys.stdin)
    usernames: list[str] = wanted["usernames"]
    posts: list[str] = wanted["posts"]
    app = application.create_app()
    with app.app_context():
        sample = models.User(username=usernames[0], email=f"{usernames[0]}@example.com")
        sample.set_password(wanted["password"])
        now = datetime.now(UTC)
        users = [
            {
                "username": name,
                "email": f"{name}@example.com",
                "password_hash": sample.password_hash,
                "about_me": f"Writer number {number}.",
                "last_seen": now - timedelta(days=1),
            }
            for number, name in enumerate(usernames, start=1)
        ]
        rows = [
            {
                "body": body,
                "user_id": n % len(usernames) + 1,
                "language": "en",
                "timestamp": now - timedelta(minutes=len(posts) - n),
            }
            for n, body in enumerate(posts)
        ]
        session = application.db.session
        session.execute(sqlalchemy.insert(models.User), users)
        session.execute(sqlalchemy.insert(models.Post), rows)
        session.commit()
        count = session.scalar(sqlalchemy.select(sqlalchemy.func.count(models.Post.id)))
    print(f"microblog seeded: {len(users)} users, {count} posts")


if __name__ == "__main__":
    main()
