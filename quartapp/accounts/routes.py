"""Register, log in and out, and the account page."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import cast

from quart import Blueprint, Response, flash, render_template, request
from quart_auth import login_required, login_user, logout_user

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
from quartapp.accounts.hashing import PasswordHashing
from quartapp.forms import posted_form
from quartapp.journal import store as journal_store
from quartapp.models import User
from quartapp.ratelimits import Limit, rate_limited
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


def _name_digest(name: str) -> str:
    """A short keyed hash of a login name that is no account's. People type passwords into
    the username box: the log must not keep it, yet repeated tries of one name stay visible."""
    key = services().settings.secret_key.encode()
    return hmac.new(key, name.encode(), hashlib.sha256).hexdigest()[:12]


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
@rate_limited(Limit.REGISTER)
async def register() -> HtmlAnswer | Response:
    if await current_account() is not None:
        return see_other("journal.index")
    form = await posted_form(RegisterForm)
    if request.method == "POST":
        if form.validate():
            new_user = store.NewUser(
                form.username.data or "",
                form.email.data or "",
                await hashing().hash(form.password.data or ""),
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
@rate_limited(Limit.LOGIN)
async def login() -> HtmlAnswer | Response:
    next_url = safe_next(request.args.get("next"))
    if await current_account() is not None:
        return see_other_path(next_url)
    form = await posted_form(LoginForm)
    if request.method == "POST":
        if form.validate():
            user = await store.find_user_for_login(read_session(), form.username.data or "")
            password = form.password.data or ""
            if user is None:
                await hashing().verify_unknown_user(password)
            elif await hashing().verify(user.password_hash, password):
                if hashing().needs_rehash(user.password_hash):
                    new_hash = await hashing().hash(password)
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
async def logout() -> Response:
    token = current_session_token()
    if token is not None:
        async with transaction() as session:
            await store.end_session(session, token)
        auth_log.info("logout from=%s", request.remote_addr)
    logout_user()
    rotate_csrf_token()
    await flash("You are logged out.", "success")
    return see_other("journal.index")


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
@login_required
async def update_profile() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(ProfileForm)
    if not form.validate():
        return await _account_page(user, profile=form, status=400)
    async with transaction() as session:
        await store.update_about(session, user.id, form.about.data or "")
    await flash("Your profile is saved.", "success")
    return see_other("accounts.account")


@blueprint.route("/account/password", methods=["POST"])
@login_required
async def change_password() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(ChangePasswordForm)
    if form.validate():
        if await hashing().verify(user.password_hash, form.current_password.data or ""):
            new_hash = await hashing().hash(form.password.data or "")
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
@login_required
async def delete_account() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(DeleteAccountForm)
    if form.validate():
        if await hashing().verify(user.password_hash, form.password.data or ""):
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
