"""Register, log in and out, and the account page."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import cast

from quart import Blueprint, Response, flash, render_template, request
from quart_auth import login_required, login_user, logout_user
from wtforms import PasswordField

from quartapp.accounts import store
from quartapp.accounts.auth import (
    SessionUser,
    current_account,
    current_session_token,
    require_account,
)
from quartapp.accounts.forms import (
    ChangePasswordForm,
    DeleteAccountForm,
    LoginForm,
    ProfileForm,
    RegisterForm,
)
from quartapp.accounts.hashing import Match, PasswordHashing
from quartapp.accounts.strength import context_words, weakness
from quartapp.forms import posted_form
from quartapp.journal import store as journal_store
from quartapp.models import User
from quartapp.ratelimits import Limit, client_key, rate_limited, refusal
from quartapp.security.csrf import rotate_csrf_token
from quartapp.security.redirects import safe_next
from quartapp.services import read_session, services, transaction
from quartapp.web import HtmlAnswer, no_store, see_other, see_other_path

blueprint = Blueprint("accounts", __name__, template_folder="templates")
# Auth events, never with a password, cookie or token; names are escaped by the formatter.
auth_log = logging.getLogger("quartapp.auth")

BAD_LOGIN = "That username or password is not right."


def hashing() -> PasswordHashing:
    return services().hashing


async def _weakness(password: str, *context: str) -> str | None:
    """Why a new password is too easy to guess, or None. In a thread: zxcvbn takes up to
    tens of milliseconds, which the event loop must not spend."""
    return await asyncio.to_thread(weakness, password, context_words(*context))


def _name_digest(name: str) -> str:
    """A short keyed hash of a login name that is no account's. People type passwords into
    the username box: the log must not keep it, yet repeated tries of one name stay visible."""
    key = services().settings.secret_key.encode()
    return hmac.new(key, name.encode(), hashlib.sha256).hexdigest()[:12]


async def _refuse_weak_password(field: PasswordField, *context: str) -> bool:
    """Add a one-line error to ``field`` if its password is too easy to guess."""
    problem = await _weakness(field.data or "", *context)
    if problem is not None:
        cast(list[str], field.errors).append(problem)
    return problem is not None


async def _log_in(user: User, remember: bool) -> None:
    """Start a new login session (a new id every time) and forget the previous one."""
    previous = current_session_token()
    async with transaction() as session:
        if previous is not None:
            await store.end_session(session, previous)
        token = await store.start_session(session, user.id, remember)
    login_user(SessionUser(token), remember=remember)
    rotate_csrf_token()


@blueprint.route("/register", methods=["GET", "POST"])
@rate_limited(Limit.REGISTER, answers_form=True)
async def register() -> HtmlAnswer | Response:
    if await current_account() is not None:
        return see_other("journal.index")
    form = await posted_form(RegisterForm)
    if request.method == "POST":
        if (refused := refusal()) is not None:
            form.form_errors.append(refused.message)
            return await render_template("accounts/register.html", form=form), 429
        if form.validate() and not await _refuse_weak_password(
            form.password, form.username.data or "", form.email.data or ""
        ):
            new_user = store.NewUser(
                form.username.data or "",
                form.email.data or "",
                await hashing().hash(form.password.data or "", client=client_key()),
            )
            try:
                async with transaction() as session:
                    user = await store.create_user(session, new_user)
            except store.DuplicateUserError as taken:
                field = form.username if taken.field == "username" else form.email
                cast(list[str], field.errors).append(
                    f"That {'username' if taken.field == 'username' else 'e-mail address'} "
                    "is already registered."
                )
            else:
                await _log_in(user, remember=False)
                auth_log.info("registered user_id=%s", user.id)
                await flash(f"Welcome, {user.username}! Your journal is ready.", "success")
                return see_other("journal.index")
        return await render_template("accounts/register.html", form=form), 400
    return await render_template("accounts/register.html", form=form)


@blueprint.route("/login", methods=["GET", "POST"])
@rate_limited(Limit.LOGIN, answers_form=True, name_field="username")
async def login() -> HtmlAnswer | Response:
    next_url = safe_next(request.args.get("next"))
    if await current_account() is not None:
        return see_other_path(next_url)
    form = await posted_form(LoginForm)
    if request.method == "POST":
        if (refused := refusal()) is not None:
            form.form_errors.append(refused.message)
            page = await render_template("accounts/login.html", form=form, next_url=next_url)
            return page, 429
        if form.validate():
            user = await store.find_user_for_login(read_session(), form.username.data or "")
            password = form.password.data or ""
            client = client_key()
            if user is None:
                await hashing().verify_unknown_user(password, client=client)
            elif (
                match := await hashing().check(user.password_hash, password, client=client)
            ) is not Match.NONE:
                if match is Match.UNNORMALISED or hashing().needs_rehash(user.password_hash):
                    new_hash = await hashing().hash(password, client=client)
                    async with transaction() as session:
                        await store.set_password_hash(session, user.id, new_hash)
                await _log_in(user, remember=bool(form.remember.data))
                auth_log.info("login ok user_id=%s from=%s", user.id, request.remote_addr)
                await flash(f"Logged in as {user.username}.", "success")
                return see_other_path(next_url)
            if user is None:
                auth_log.info(
                    "login failed for no account (name %s) from=%s",
                    _name_digest(form.username.data or ""),
                    request.remote_addr,
                )
            else:
                auth_log.info("login failed user_id=%s from=%s", user.id, request.remote_addr)
            form.form_errors.append(BAD_LOGIN)
        return await render_template("accounts/login.html", form=form, next_url=next_url), 400
    return await render_template("accounts/login.html", form=form, next_url=next_url)


@blueprint.route("/logout", methods=["POST"])
@rate_limited(Limit.WRITES)
async def logout() -> Response:
    token = current_session_token()
    if token is not None:
        async with transaction() as session:
            await store.end_session(session, token)
        auth_log.info("logout from=%s", request.remote_addr)
    logout_user()
    rotate_csrf_token()
    await flash("You are logged out.", "success")
    response = see_other("journal.index")
    # The browser drops what it kept of the signed-in pages (its caches, the back-forward
    # cache's snapshots, any storage); the session cookie is ended by logout_user.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


async def _account_page(
    user: User,
    *,
    profile: ProfileForm | None = None,
    password: ChangePasswordForm | None = None,
    delete: DeleteAccountForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    page = await render_template(
        "accounts/account.html",
        user=user,
        profile_form=profile or ProfileForm(data={"about": user.about}),
        password_form=password or ChangePasswordForm(),
        delete_form=delete or DeleteAccountForm(),
    )
    return page, status


@blueprint.route("/account")
@login_required
async def account() -> tuple[str, int]:
    return await _account_page(await require_account())


@blueprint.route("/account/profile", methods=["POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def update_profile() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(ProfileForm)
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await _account_page(user, profile=form, status=429)
    if not form.validate():
        return await _account_page(user, profile=form, status=400)
    async with transaction() as session:
        await store.update_about(session, user.id, form.about.data or "")
    await flash("Your profile is saved.", "success")
    return see_other("accounts.account")


@blueprint.route("/account/password", methods=["POST"])
@rate_limited(Limit.ACCOUNT_PASSWORD)
@login_required
async def change_password() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(ChangePasswordForm)
    client = client_key()
    if form.validate() and not await _refuse_weak_password(
        form.password, user.username, user.email
    ):
        if await hashing().verify(
            user.password_hash, form.current_password.data or "", client=client
        ):
            new_hash = await hashing().hash(form.password.data or "", client=client)
            token = current_session_token()
            assert token is not None
            async with transaction() as session:
                await store.change_password(session, user.id, new_hash, keep_token=token)
            auth_log.info("password changed user_id=%s", user.id)
            await flash("Password changed. Every other session was logged out.", "success")
            return see_other("accounts.account")
        cast(list[str], form.current_password.errors).append("That is not your current password.")
    return await _account_page(user, password=form, status=400)


@blueprint.route("/account/delete", methods=["POST"])
@rate_limited(Limit.ACCOUNT_PASSWORD)
@login_required
async def delete_account() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(DeleteAccountForm)
    if form.validate():
        if await hashing().verify(
            user.password_hash, form.password.data or "", client=client_key()
        ):
            async with transaction() as session:
                await store.delete_user(session, user.id)
            logout_user()
            rotate_csrf_token()
            auth_log.info("account deleted user_id=%s", user.id)
            await flash("Your account and all your entries are deleted.", "success")
            return see_other("journal.index")
        cast(list[str], form.password.errors).append("That is not your password.")
    return await _account_page(user, delete=form, status=400)


@blueprint.route("/account/export")
@login_required
async def export() -> Response:
    """Everything the user wrote, as one JSON file."""
    user = await require_account()
    entries = await journal_store.entries_by_author(read_session(), user.id)
    document = {
        "username": user.username,
        "email": user.email,
        "about": user.about,
        "joined": user.created_at.isoformat(),
        "entries": [
            {
                "id": entry.id,
                "title": entry.title,
                "body": entry.body,
                "visibility": entry.visibility,
                "created": entry.created_at.isoformat(),
                "edited": entry.updated_at.isoformat() if entry.updated_at else None,
            }
            for entry in entries
        ],
    }
    response = Response(
        json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{user.username}-journal.json"'
    return no_store(response)
