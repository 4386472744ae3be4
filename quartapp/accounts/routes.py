"""Register, log in and out, and the account page."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import zipfile
from typing import cast

from quart import Blueprint, Response, flash, render_template, request
from quart_auth import login_required, logout_user
from wtforms import PasswordField

from quartapp.accounts import messages, store, tokens
from quartapp.accounts.auth import (
    current_account,
    current_session_token,
    require_account,
)
from quartapp.accounts.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    DeleteAccountForm,
    ForgotForm,
    LoginForm,
    ProfileForm,
    RegisterForm,
    UsernameForm,
)
from quartapp.accounts.hashing import Match, PasswordHashing
from quartapp.accounts.signin import log_in
from quartapp.accounts.strength import context_words, weakness
from quartapp.forms import posted_form
from quartapp.journal import store as journal_store
from quartapp.models import PRIVATE, User, utcnow
from quartapp.ratelimits import Limit, client_key, rate_limited, refusal
from quartapp.security.csrf import rotate_csrf_token
from quartapp.security.redirects import safe_next
from quartapp.services import read_session, services, transaction
from quartapp.twofactor import pending
from quartapp.uploads import store as uploads
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


def name_digest(name: str) -> str:
    """A short keyed hash of a login name that is no account's. People type passwords into
    the username box: the log must not keep it, yet repeated tries of one name stay visible."""
    key = services().settings.secret_key.encode()
    return hmac.new(key, name.encode(), hashlib.sha256).hexdigest()[:12]


async def refuse_weak_password(field: PasswordField, *context: str) -> bool:
    """Add a one-line error to ``field`` if its password is too easy to guess."""
    problem = await _weakness(field.data or "", *context)
    if problem is not None:
        cast(list[str], field.errors).append(problem)
    return problem is not None


@blueprint.route("/register", methods=["GET", "POST"])
@rate_limited(Limit.REGISTER, answers_form=True)
async def register() -> HtmlAnswer | Response:
    if await current_account() is not None:
        return see_other("journal.index")
    form = await posted_form(RegisterForm)
    if request.method == "POST":
        if (refused := refusal()) is not None:
            form.form_errors.append(refused.message)
            return await render_template("accounts/register.html", form=form), refused.status
        if form.validate() and not await refuse_weak_password(
            form.password, form.username.data or "", form.email.data or ""
        ):
            confirming = services().mailer.configured
            new_user = store.NewUser(
                form.username.data or "",
                form.email.data or "",
                await hashing().hash(form.password.data or "", client=client_key()),
                confirmed=not confirming,
            )
            try:
                async with transaction() as session:
                    user = await store.create_user(session, new_user)
                    if confirming:
                        await messages.confirmation(session, user)
            except store.DuplicateUserError as taken:
                if confirming and taken.field == "email":
                    # The same answer as for a new account; the owner hears of it.
                    await _tell_the_owner(new_user.email)
                    return await render_template("accounts/link_sent.html", purpose="register")
                field = form.username if taken.field == "username" else form.email
                cast(list[str], field.errors).append(
                    f"That {'username' if taken.field == 'username' else 'e-mail address'} "
                    "is already registered."
                )
            else:
                if confirming:
                    auth_log.info("registered user_id=%s, to confirm", user.id)
                    return await render_template("accounts/link_sent.html", purpose="register")
                await log_in(user, remember=False)
                auth_log.info("registered user_id=%s", user.id)
                await flash(f"Welcome, {user.username}! Your journal is ready.", "success")
                return see_other("journal.index")
        return await render_template("accounts/register.html", form=form), 400
    return await render_template("accounts/register.html", form=form)


async def _tell_the_owner(email: str) -> None:
    owner = await store.find_user_for_login(read_session(), email)
    if owner is None:  # deleted meanwhile
        return
    async with transaction() as session:
        await messages.address_taken(session, owner)
    auth_log.info("registration with a taken address user_id=%s", owner.id)


def _unconfirmed(user: User) -> bool:
    return services().mailer.configured and user.email_confirmed_at is None


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
            return page, refused.status
        if form.validate():
            user = await store.find_user_for_login(read_session(), form.username.data or "")
            password = form.password.data or ""
            client = client_key()
            if user is None:
                await hashing().verify_unknown_user(password, client=client)
            elif (
                match := await hashing().check(user.password_hash, password, client=client)
            ) is not Match.NONE:
                if _unconfirmed(user):
                    # Only someone with the password learns that the account waits.
                    auth_log.info("login before confirming user_id=%s", user.id)
                    page = await render_template(
                        "accounts/login.html",
                        form=form,
                        next_url=next_url,
                        unconfirmed=ForgotForm(data={"email": form.username.data}),
                    )
                    return page, 403
                password_hash = user.password_hash
                if match is Match.UNNORMALISED or hashing().needs_rehash(password_hash):
                    password_hash = await hashing().hash(password, client=client)
                    async with transaction() as session:
                        await store.set_password_hash(session, user.id, password_hash)
                if user.totp_enabled_at is not None:
                    # The password was right; a code or a passkey finishes the sign-in.
                    pending.begin(user.id, password_hash, bool(form.remember.data), next_url)
                    auth_log.info("password ok, second step next user_id=%s", user.id)
                    return see_other("twofactor.second_step")
                await log_in(user, remember=bool(form.remember.data))
                auth_log.info("login ok user_id=%s from=%s", user.id, request.remote_addr)
                await flash(f"Logged in as {user.username}.", "success")
                return see_other_path(next_url)
            if user is None:
                auth_log.info(
                    "login failed for no account (name %s) from=%s",
                    name_digest(form.username.data or ""),
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
    return await logged_out("You are logged out.")


async def logged_out(message: str) -> Response:
    """Forget this browser's login (its session already ended) and send it home."""
    logout_user()
    rotate_csrf_token()
    await flash(message, "success")
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
    username: UsernameForm | None = None,
    email: ChangeEmailForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    page = await render_template(
        "accounts/account.html",
        user=user,
        profile_form=profile
        or ProfileForm(data={"about": user.about, "default_visibility": user.default_visibility}),
        password_form=password or ChangePasswordForm(),
        delete_form=delete or DeleteAccountForm(),
        username_form=username or UsernameForm(),
        email_form=email or ChangeEmailForm(),
        mail_configured=services().mailer.configured,
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
        return await _account_page(user, profile=form, status=refused.status)
    if not form.validate():
        return await _account_page(user, profile=form, status=400)
    async with transaction() as session:
        await store.update_profile(
            session, user.id, form.about.data or "", form.default_visibility.data or PRIVATE
        )
    await flash("Your profile is saved.", "success")
    return see_other("accounts.account")


@blueprint.route("/account/username", methods=["POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def change_username() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(UsernameForm)
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await _account_page(user, username=form, status=refused.status)
    if not form.validate():
        return await _account_page(user, username=form, status=400)
    new_name = form.username.data or ""
    try:
        async with transaction() as session:
            await store.change_username(session, user.id, new_name)
    except store.DuplicateUserError:
        cast(list[str], form.username.errors).append("That username is already registered.")
        return await _account_page(user, username=form, status=400)
    auth_log.info("username changed user_id=%s", user.id)
    await flash(
        f"Your username is now {new_name}. Your old profile address no longer works.", "success"
    )
    return see_other("accounts.account")


@blueprint.route("/account/email", methods=["POST"])
@rate_limited(Limit.ACCOUNT_PASSWORD, answers_form=True)
@login_required
async def change_email() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(ChangeEmailForm)
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await _account_page(user, email=form, status=refused.status)
    if not form.validate():
        return await _account_page(user, email=form, status=400)
    if not await hashing().verify(
        user.password_hash, form.password.data or "", client=client_key()
    ):
        cast(list[str], form.password.errors).append("That is not your password.")
        return await _account_page(user, email=form, status=400)
    new_email = form.email.data or ""
    if not services().mailer.configured:  # nothing can be confirmed: it changes now
        try:
            async with transaction() as session:
                await store.change_email(session, user.id, new_email, utcnow())
        except store.DuplicateUserError:
            cast(list[str], form.email.errors).append("That e-mail address is already registered.")
            return await _account_page(user, email=form, status=400)
        auth_log.info("e-mail changed user_id=%s", user.id)
        await flash("Your e-mail address is changed.", "success")
        return see_other("accounts.account")
    owner = await store.find_user_for_login(read_session(), new_email)
    async with transaction() as session:
        if owner is None:
            sent = await messages.new_address_link(session, user, new_email)
        elif owner.id != user.id:  # the same answer; the address's owner hears of it
            await messages.address_taken(session, owner)
            sent = False
        else:
            sent = False
    auth_log.info("e-mail change asked user_id=%s sent=%s", user.id, sent)
    await flash(
        "We sent a link to the new address. Your address changes when you follow it "
        "(within two days).",
        "success",
    )
    return see_other("accounts.account")


@blueprint.route("/account/password", methods=["POST"])
@rate_limited(Limit.ACCOUNT_PASSWORD)
@login_required
async def change_password() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(ChangePasswordForm)
    client = client_key()
    if form.validate() and not await refuse_weak_password(form.password, user.username, user.email):
        if await hashing().verify(
            user.password_hash, form.current_password.data or "", client=client
        ):
            new_hash = await hashing().hash(form.password.data or "", client=client)
            token = current_session_token()
            assert token is not None
            async with transaction() as session:
                await store.change_password(session, user.id, new_hash, keep_token=token)
                await tokens.void(session, user.id, tokens.RESET)
                await messages.password_changed(session, user)
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
            images = uploads.stored_names(await uploads.of_user(read_session(), user.id))
            async with transaction() as session:
                await store.delete_user(session, user.id)  # their rows go with it
            await services().images.delete(images)
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
                "written": entry.written_at.isoformat(),
                "created": entry.created_at.isoformat(),
                "edited": entry.updated_at.isoformat() if entry.updated_at else None,
            }
            for entry in entries
        ],
        # The files themselves are in the images download (export_images).
        "images": [
            {
                "url": f"{uploads.PATH_PREFIX}{image.name}",
                "file": image.name,
                "type": image.content_type,
                "bytes": image.size,
                "width": image.width,
                "height": image.height,
                "uploaded": image.created_at.isoformat(),
            }
            for image in await uploads.of_user(read_session(), user.id)
        ],
    }
    response = Response(
        json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{user.username}-journal.json"'
    return no_store(response)


@blueprint.route("/account/export/images")
@login_required
async def export_images() -> Response:
    """Every image the user uploaded, as one ZIP file (names as in the export's JSON)."""
    user = await require_account()
    storage = services().images
    files = []
    for image in await uploads.of_user(read_session(), user.id):
        data = await storage.read(image.name)
        if data is not None:
            files.append((image.name, data))
    archive = await asyncio.to_thread(_zip, files)
    response = Response(archive, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{user.username}-images.zip"'
    return no_store(response)


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    # Stored, not deflated: the images are compressed already.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()
