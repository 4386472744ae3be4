"""Images in entries (quartapp/uploads/): uploaded by content, cleaned of metadata, kept
to a quota, served to whoever may read an entry that shows them (and their owner)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import CSRF_RE, AuthActions, page_text, post_form

GPS = 0x8825


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 32), "teal")
    exif = Image.Exif()
    exif[0x0110] = "Secret Phone 12"  # camera model
    exif[GPS] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(size: tuple[int, int] = (10, 10), noise: bool = False) -> bytes:
    image = (
        Image.frombytes("RGB", size, __import__("os").urandom(size[0] * size[1] * 3))
        if noise
        else Image.new("RGB", size, "orange")
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def token_of(client: Client) -> str:
    found = CSRF_RE.search(await page_text(await client.get("/")))
    assert found is not None
    return found.group(1)


async def upload(
    client: Client, data: bytes, filename: str, *, json: bool = True, token: str | None = None
) -> Any:
    from werkzeug.datastructures import FileStorage

    headers = {"Accept": "application/json"} if json else {}
    token = token if token is not None else await token_of(client)
    response = await client.post(
        "/uploads",
        form={"csrf_token": token},
        files={"file": FileStorage(io.BytesIO(data), filename=filename)},
        headers=headers,
    )
    return response


@pytest.fixture
async def alice(auth: AuthActions, test_database: TestDatabase) -> AuthActions:
    await auth.register_and_login("alice")
    return auth


async def test_a_photo_comes_back_without_its_metadata(client: Client, alice: AuthActions) -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(GPS) is not None
    response = await upload(client, original, "IMG_2041.jpeg")
    assert response.status_code == 200
    answer = await response.get_json()
    assert re.fullmatch(r"/uploads/[A-Za-z0-9_-]{22}\.jpg", answer["url"])
    assert answer["markdown"] == f"![IMG_2041]({answer['url']})"
    served = await client.get(answer["url"])
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "private, no-store"  # in no public entry yet
    data = await served.get_data(as_text=False)
    cleaned = Image.open(io.BytesIO(data))
    assert not cleaned.getexif()
    assert b"Secret Phone" not in data
    assert cleaned.size == (64, 32)


async def test_the_content_decides_not_the_name(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    as_jpg = await upload(client, png(), "holiday.jpg")
    assert as_jpg.status_code == 200
    url = (await as_jpg.get_json())["url"]
    assert url.endswith(".png")
    assert (await client.get(url)).headers["Content-Type"] == "image/png"

    for name, data in (
        ("page.png", b"<html><script>alert(1)</script></html>"),
        ("empty.gif", b""),
        ("cut.png", png()[:40]),
        ("vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
    ):
        refused = await upload(client, data, name)
        assert refused.status_code == 400, name
        assert (await refused.get_json())["error"], name
    assert len(test_database.rows("SELECT id FROM uploads")) == 1


async def test_an_image_that_unpacks_too_far_is_refused(client: Client, alice: AuthActions) -> None:
    huge = Image.new("1", (10_000, 8_000))  # 80 million pixels in a few kilobytes
    out = io.BytesIO()
    huge.save(out, "PNG")
    assert len(out.getvalue()) < 200_000
    refused = await upload(client, out.getvalue(), "small.png")
    assert refused.status_code == 400
    assert "million" in (await refused.get_json())["error"]


async def test_who_sees_an_image_follows_the_entries_that_show_it(
    app: Quart, client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    answer = await (await upload(client, png(), "p.png")).get_json()
    url = answer["url"]
    visitor = app.test_client()
    bob = AuthActions(app.test_client())
    await bob.register_and_login("bob")
    assert (await visitor.get(url)).status_code == 404  # in no entry: its owner's alone
    assert (await bob.client.get(url)).status_code == 404

    entry_id = await alice.post_entry(f"A picture: {answer['markdown']}", visibility="private")
    page = await page_text(await client.get(f"/entries/{entry_id}"))
    assert f'<img src="{url}" alt="p" loading="lazy">' in page
    assert (await visitor.get(url)).status_code == 404  # only in a private entry
    assert (await client.get(url)).status_code == 200

    await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"body": f"A picture: {answer['markdown']}", "visibility": "public"},
        token_from=f"/entries/{entry_id}/edit",
    )
    shown = await visitor.get(url)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # Someone else's image in your entry does not make it public.
    bobs = await (await upload(bob.client, png(), "b.png")).get_json()
    await alice.post_entry(f"Borrowed: {bobs['markdown']}", visibility="public")
    assert (await visitor.get(bobs["url"])).status_code == 404

    await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"body": "No picture now.", "visibility": "public"},
        token_from=f"/entries/{entry_id}/edit",
    )
    assert (await visitor.get(url)).status_code == 404
    assert (await visitor.get("/uploads/../../etc/passwd")).status_code == 404
    assert (await visitor.get("/uploads/AAAAAAAAAAAAAAAAAAAAAA.png")).status_code == 404


async def test_uploads_need_the_token_and_a_writer(
    app: Quart, client: Client, alice: AuthActions
) -> None:
    refused = await upload(client, png(), "p.png", token="wrong")
    assert refused.status_code == 400
    by_header = await client.post(
        "/uploads",
        files={"file": __import__("werkzeug.datastructures").datastructures.FileStorage(
            io.BytesIO(png()), filename="p.png")},
        headers={"Accept": "application/json", "X-CSRF-Token": await token_of(client)},
    )  # fmt: skip
    assert by_header.status_code == 200
    visitor = app.test_client()
    token = CSRF_RE.search(await page_text(await visitor.get("/login")))
    assert token is not None
    anonymous = await upload(visitor, png(), "p.png", token=token.group(1))
    assert anonymous.status_code in (302, 303)
    missing = await client.post(
        "/uploads",
        form={"csrf_token": await token_of(client)},
        headers={"Accept": "application/json"},
    )
    assert missing.status_code == 400
    assert "Choose an image file" in (await missing.get_json())["error"]


async def test_without_a_script_the_page_says_what_to_paste(
    client: Client, alice: AuthActions
) -> None:
    response = await upload(client, png(), "walk.png", json=False)
    assert response.status_code == 303
    page = await page_text(await client.get(response.headers["Location"]))
    assert re.search(
        r"Image uploaded\. Put this in your entry where it goes: !\[walk\]\(/uploads/", page
    )
    assert 'enctype="multipart/form-data"' in page  # the file field is on the page


async def test_size_and_quota_are_limits(started: Any, test_database: TestDatabase) -> None:
    app: Quart = await started(upload_max_mb=1, upload_quota_mb=1)
    client = app.test_client()
    await AuthActions(client).register_and_login("alice")
    big = png((700, 700), noise=True)  # ~1.4 MiB of noise
    assert len(big) > 1024 * 1024
    too_big = await upload(client, big, "big.png")
    assert too_big.status_code == 413
    assert "at most 1 MiB" in (await too_big.get_json())["error"]
    part = png((350, 350), noise=True)  # ~360 KiB: two fit in 1 MiB, a third does not
    statuses = [(await upload(client, part, f"{n}.png")).status_code for n in range(2)]
    assert statuses == [200, 200]
    last = await upload(client, part, "3.png")
    assert last.status_code == 413
    assert "of the 1 MiB an account may keep" in (await last.get_json())["error"]
    stored = test_database.rows("SELECT SUM(size) FROM uploads")[0][0]
    assert stored <= 1024 * 1024


async def test_images_are_exported_and_deleted_with_the_account(
    app: Quart, client: Client, alice: AuthActions, test_database: TestDatabase, tmp_path: Path
) -> None:
    answer = await (await upload(client, png(), "p.png")).get_json()
    name = answer["url"].rsplit("/", 1)[1]
    files = list((tmp_path / "instance" / "uploads").iterdir())
    assert [f.name for f in files] == [name]
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    document = await (await client.get("/account/export")).get_json()
    assert [image["file"] for image in document["images"]] == [name]
    archive = zipfile.ZipFile(
        io.BytesIO(await (await client.get("/account/export/images")).get_data(as_text=False))
    )
    assert archive.namelist() == [name]
    deleted = await post_form(
        client, "/account/delete", {"password": "correct horse battery"}, token_from="/account"
    )
    assert deleted.status_code == 303
    assert test_database.rows("SELECT id FROM uploads") == []
    assert list((tmp_path / "instance" / "uploads").iterdir()) == []
