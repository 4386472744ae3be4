"""Login sessions are server-side and revocable; cookies carry the right flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http.cookiejar import Cookie
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response
from quart_auth import QuartAuth

from quartapp.accounts import store
from quartapp.accounts.auth import check_login
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import CSRF_RE, DEFAULT_PASSWORD, AuthActions, page_text, post_form

AUTH_COOKIE = "quartapp_auth"
SESSION_COOKIE = "quartapp_session"
PRODUCTION_KEY = "production-secret-" + "k" * 40


def session_rows(database: TestDatabase) -> set[str]:
    """The stored login sessions, each known by its token hash (SQLite reuses row ids)."""
    return {row[0] for row in database.rows("SELECT token_hash FROM login_sessions")}


def jar_cookie(client: Client, name: str) -> Cookie:
    assert client.cookie_jar is not None
    found = [cookie for cookie in client.cookie_jar if cookie.name == name]
    assert len(found) == 1, f"no {name} cookie"
    return found[0]


def auth_cookie(client: Client) -> str:
    value = jar_cookie(client, AUTH_COOKIE).value
    assert value is not None
    return value


async def account_status(app: Quart, cookie: str) -> int:
    """GET /account from a fresh browser that only carries this auth cookie."""
    response = await app.test_client().get(
        "/account", headers={"Cookie": f"{AUTH_COOKIE}={cookie}"}
    )
    if response.status_code == 303:
        assert response.headers["Location"] == "/login?next=/account"
    return response.status_code


def session_id_of(app: Quart, cookie: str) -> str:
    """The random session id inside the signed auth cookie."""
    extension: QuartAuth = app.extensions["QUART_AUTH"][0]
    session_id = extension.load_token(cookie, app)
    assert session_id
    return session_id


async def logged_in_client(app: Quart, username: str = "alice") -> Client:
    auth = AuthActions(app.test_client())
    response = await auth.login(username)
    assert response.status_code == 303, await page_text(response)
    return auth.client


async def test_cookie_copied_before_logout_is_refused_after_it(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    copied = auth_cookie(client)
    assert await account_status(app, copied) == 200

    await auth.logout()

    assert await account_status(app, copied) == 303
    assert session_rows(test_database) == set()


async def test_password_change_logs_out_other_sessions_but_not_this_one(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    laptop = await logged_in_client(app)
    phone = await logged_in_client(app)
    phone_cookie = auth_cookie(phone)
    assert len(session_rows(test_database)) == 3

    response = await post_form(
        laptop,
        "/account/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "password": "a new passphrase",
            "confirm": "a new passphrase",
        },
        token_from="/account",
    )

    assert response.status_code == 303, await page_text(response)
    assert (await laptop.get("/account")).status_code == 200
    assert (await client.get("/account")).status_code == 303
    assert (await phone.get("/account")).status_code == 303
    assert await account_status(app, phone_cookie) == 303
    assert len(session_rows(test_database)) == 1


async def test_cookie_of_a_deleted_account_is_refused(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    copied = auth_cookie(client)
    other_device = auth_cookie(await logged_in_client(app))

    response = await post_form(
        client, "/account/delete", {"password": DEFAULT_PASSWORD}, token_from="/account"
    )

    assert response.status_code == 303
    assert await account_status(app, copied) == 303
    assert await account_status(app, other_device) == 303
    assert session_rows(test_database) == set()


async def test_every_login_gets_a_new_session_id(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    cookies = [auth_cookie(client)]
    rows_seen = [session_rows(test_database)]
    for _ in range(2):
        await auth.logout()
        assert (await auth.login()).status_code == 303
        cookies.append(auth_cookie(client))
        rows_seen.append(session_rows(test_database))

    session_id_values = {session_id_of(app, cookie) for cookie in cookies}
    assert len(session_id_values) == 3
    assert all(len(seen) == 1 for seen in rows_seen)
    assert len(set().union(*rows_seen)) == 3  # a different row each time
    # Two devices at once: two rows, two ids.
    second = auth_cookie(await logged_in_client(app))
    assert session_id_of(app, second) not in session_id_values
    assert len(session_rows(test_database)) == 2


async def test_session_ids_are_stored_hashed(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    session_id = session_id_of(app, auth_cookie(client))
    remembered_id = session_id_of(app, auth_cookie(await logged_in_client(app)))

    stored = test_database.rows("SELECT * FROM login_sessions")
    assert len(stored) == 2
    everything = " ".join(str(value) for row in stored for value in row)
    for secret in (session_id, remembered_id):
        assert secret not in everything
        assert secret.encode() not in test_database.stored_bytes()


async def test_forged_or_unknown_session_ids_are_refused(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    cookie = auth_cookie(client)
    extension: QuartAuth = app.extensions["QUART_AUTH"][0]
    assert await account_status(app, cookie[:-2] + "xx") == 303  # bad signature
    assert await account_status(app, extension.dump_token("made-up-id", app)) == 303


async def test_idle_session_expires_but_remembered_one_lasts(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register("alice")
    await auth.logout()
    browser = await logged_in_client(app)
    remembering = AuthActions(app.test_client())
    assert (await remembering.login(remember=True)).status_code == 303
    long_ago = test_database.time_value(datetime.now(UTC) - timedelta(hours=25))
    test_database.execute("UPDATE login_sessions SET last_seen_at = :then", then=long_ago)

    assert (await browser.get("/account")).status_code == 303  # idle more than 24 hours
    assert (await remembering.client.get("/account")).status_code == 200


def stored_last_seen(database: TestDatabase) -> datetime:
    return database.timestamp(database.scalar("SELECT last_seen_at FROM login_sessions"))


def set_last_seen(database: TestDatabase, moment: datetime) -> None:
    database.execute(
        "UPDATE login_sessions SET last_seen_at = :moment", moment=database.time_value(moment)
    )


async def test_last_seen_is_written_at_most_once_a_minute(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    """Not a write per page view: a login seen 50 s ago is left alone, one seen 70 s ago
    is brought up to date (and the idle clock restarts from then)."""
    await auth.register_and_login("alice")
    recently = datetime.now(UTC) - timedelta(seconds=50)
    set_last_seen(test_database, recently)
    for _ in range(3):
        assert (await client.get("/account")).status_code == 200
    assert stored_last_seen(test_database) == recently

    set_last_seen(test_database, datetime.now(UTC) - timedelta(seconds=70))
    before = datetime.now(UTC)
    assert (await client.get("/account")).status_code == 200
    assert before <= stored_last_seen(test_database) <= datetime.now(UTC)


async def test_a_login_used_within_its_idle_timeout_lasts(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    """Seen 23 h 58 min ago with a 24 h idle timeout: still logged in, and the clock restarts,
    so using the site now and then keeps a login alive for good."""
    await auth.register_and_login("alice")
    for _ in range(3):
        set_last_seen(test_database, datetime.now(UTC) - timedelta(hours=23, minutes=58))
        assert (await client.get("/account")).status_code == 200
        assert datetime.now(UTC) - stored_last_seen(test_database) < timedelta(seconds=5)
    set_last_seen(test_database, datetime.now(UTC) - timedelta(hours=24, seconds=5))
    assert (await client.get("/account")).status_code == 303  # idle past the timeout


def set_cookie(response: Response, name: str) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers
    return headers[0]


def flags(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


async def test_cookies_are_httponly_and_samesite_lax(client: Client, auth: AuthActions) -> None:
    await auth.register("alice")
    await auth.logout()
    response = await auth.login()
    for name in (AUTH_COOKIE, SESSION_COOKIE):
        header = set_cookie(response, name)
        assert {"httponly", "samesite"} <= flags(header)
        assert "SameSite=Lax" in header
        assert "secure" not in flags(header)  # development serves plain http


async def test_cookies_are_host_only_and_secure_in_production(make_app: Any) -> None:
    """``__Host-`` names: browsers keep them only Secure, with Path=/ and no Domain, so no
    sibling subdomain or plain-HTTP page can set one (ASVS 3.3.1)."""
    app: Quart = make_app(
        env="production",
        secret_key=PRODUCTION_KEY,
        allowed_hosts=("localhost",),
        site_url="https://localhost",
    )
    session_cookie, auth_cookie = f"__Host-{SESSION_COOKIE}", f"__Host-{AUTH_COOKIE}"
    async with app.test_app():
        client = app.test_client()
        page = await client.get("/register", scheme="https")
        assert "secure" in flags(set_cookie(page, session_cookie))
        token = jar_cookie(client, session_cookie)
        assert token.secure
        form = {
            "csrf_token": await _csrf_from(page),
            "username": "alice",
            "email": "alice@example.com",
            "password": DEFAULT_PASSWORD,
            "confirm": DEFAULT_PASSWORD,
        }
        response = await client.post("/register", form=form, scheme="https")
        assert response.status_code == 303, await page_text(response)
        for name in (auth_cookie, session_cookie):
            header = set_cookie(response, name)
            assert {"secure", "httponly", "samesite", "path"} <= flags(header)
            assert "domain" not in flags(header)
            assert "SameSite=Lax" in header
            assert "Path=/;" in header or header.endswith("Path=/")
        assert (await client.get("/account", scheme="https")).status_code == 200


async def _csrf_from(response: Response) -> str:
    match = CSRF_RE.search(await page_text(response))
    assert match is not None
    return match.group(1)


async def test_a_stale_login_gives_its_read_connection_back_before_writing(
    app: Quart, test_database: TestDatabase
) -> None:
    """The request's reader would otherwise hold one connection while the last-seen write
    waits for another: enough requests doing so at once drain the pool."""
    database = services_of(app).database
    policy = services_of(app).session_policy
    async with database.transaction() as session:
        user = await store.create_user(session, store.NewUser("alice", "a@example.com", "x"))
        token = await store.start_session(session, user.id, remember=False)
    set_last_seen(test_database, datetime.now(UTC) - timedelta(minutes=2))
    async with app.test_request_context("/"):
        reader = database.request_session()
        assert await check_login(database, policy, token, reader) is not None
        assert not reader.in_transaction()  # its connection is back in the pool
    async with app.test_request_context("/"):  # seen just now: nothing to write, kept open
        reader = database.request_session()
        assert await check_login(database, policy, token, reader) is not None
        assert reader.in_transaction()
