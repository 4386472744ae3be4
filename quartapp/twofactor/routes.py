"""Two-factor sign-in: turn an authenticator app on and off, recovery codes, passkeys,
and the second step of signing in.

With the app turned on, a right password leads to ``/login/2fa`` (``pending`` keeps the
half-finished sign-in) where a code from the app, a recovery code or one of the account's
passkeys finishes it. A passkey can also sign in alone, from the login page: it proves
possession and, with the person verified by the device, stands for both factors.
"""

from __future__ import annotations

import logging
from typing import Any, cast
from urllib.parse import urlsplit

from quart import Blueprint, Response, abort, flash, render_template, request, url_for
from quart_auth import login_required
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from wtforms import Form

from quartapp.accounts import store as accounts_store
from quartapp.accounts.auth import require_account
from quartapp.accounts.signin import log_in
from quartapp.forms import posted_form
from quartapp.models import Passkey, User, utcnow
from quartapp.ratelimits import Limit, client_key, rate_limited, refusal
from quartapp.security.redirects import safe_next
from quartapp.services import read_session, services, transaction
from quartapp.twofactor import codes, messages, passkeys, pending, store
from quartapp.twofactor.forms import (
    CodeForm,
    NewPasskeyForm,
    PasskeyNameForm,
    PasskeySignInForm,
    PasswordForm,
    TurnOffForm,
)
from quartapp.twofactor.passkeys import PasskeyError
from quartapp.web import HtmlAnswer, json_answer, no_store, see_other, see_other_path

blueprint = Blueprint("twofactor", __name__, template_folder="templates")
auth_log = logging.getLogger("quartapp.auth")

WRONG_CODE = (
    "That code is not right, or it was used already. Codes change every 30 seconds: "
    "check that your device's clock is right and type the newest one."
)
WRONG_PASSWORD = "That is not your password."  # noqa: S105 (a message)
SIGN_IN_AGAIN = "Your sign-in took too long or was ended. Log in again."


def _party() -> passkeys.RelyingParty:
    return passkeys.relying_party(services().settings.site_url, request.scheme, request.host)


def _issuer() -> str:
    """The name an authenticator app shows beside the account: the site's host."""
    return urlsplit(services().settings.site_url).hostname or request.host.rsplit(":", 1)[0]


def _add_error(form: Form, field: str, message: str) -> None:
    cast(list[str], getattr(form, field).errors).append(message)


async def _take_code(session: AsyncSession, user: User, typed: str) -> str | None:
    """Use up ``typed``, an app's code or a recovery code: which it was, or None if it is
    not right or was used already."""
    code = codes.normalise(typed)
    if codes.looks_like_app_code(code):
        if user.totp_secret is None:
            return None
        step = codes.matching_step(user.totp_secret, code, utcnow())
        return "app" if step is not None and await store.use_step(session, user.id, step) else None
    if await store.use_recovery_code(session, user.id, codes.hash_recovery_code(code)):
        return "recovery"
    return None


async def _password_right(user: User, password: str) -> bool:
    return await services().hashing.verify(user.password_hash, password, client=client_key())


# --- the settings page ------------------------------------------------------------------


async def _settings_page(
    user: User,
    *,
    first_code: CodeForm | None = None,
    turn_off: TurnOffForm | None = None,
    renew: PasswordForm | None = None,
    rename: dict[int, PasskeyNameForm] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    read = read_session()
    enrolling = user.totp_enabled_at is None and user.totp_secret is not None
    uri = (
        codes.provisioning_uri(user.totp_secret, user.username, _issuer())
        if enrolling and user.totp_secret
        else None
    )
    keys = await store.passkeys_of(read, user.id)
    page = await render_template(
        "twofactor/settings.html",
        user=user,
        enabled=user.totp_enabled_at is not None,
        enrolling=enrolling,
        qr_svg=codes.qr_svg(uri) if uri else None,
        secret=codes.grouped(user.totp_secret) if enrolling and user.totp_secret else None,
        codes_left=await store.recovery_codes_left(read, user.id),
        first_code=first_code or CodeForm(),
        turn_off=turn_off or TurnOffForm(),
        renew=renew or PasswordForm(),
        passkeys=keys,
        rename=rename or {},
        new_passkey=PasskeyNameForm(),
        max_passkeys=store.MAX_PASSKEYS,
    )
    return page, status


async def _form_refused(
    user: User, form: Form, slot: str, *, with_password: bool = False, shown: Any = None
) -> tuple[str, int] | None:
    """The settings page again, ``form`` (or ``shown``) in its ``slot`` with what was
    typed, when the form is over its rate limit, invalid, or (``with_password``) the
    password is wrong; None when the view may act on it."""
    page: dict[str, Any] = {slot: form if shown is None else shown}
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await _settings_page(user, **page, status=refused.status)
    if not form.validate():
        return await _settings_page(user, **page, status=400)
    password = getattr(form, "password", None)
    if with_password and not await _password_right(user, password.data if password else ""):
        _add_error(form, "password", WRONG_PASSWORD)
        return await _settings_page(user, **page, status=400)
    return None


async def _codes_page(new_codes: list[str], news: str) -> Response:
    """The recovery codes, shown this once and never cached."""
    page = await render_template("twofactor/recovery_codes.html", codes=new_codes, news=news)
    return no_store(Response(page, mimetype="text/html"))


@blueprint.route("/account/2fa")
@login_required
async def settings() -> Response:
    page, status = await _settings_page(await require_account())
    # The page may show the app's secret while it is being set up: never cached.
    return no_store(Response(page, status, mimetype="text/html"))


@blueprint.route("/account/2fa/setup", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def set_up() -> Response:
    user = await require_account()
    if user.totp_enabled_at is None:
        async with transaction() as session:
            await store.start_enrolment(session, user.id, codes.new_secret())
    return see_other("twofactor.settings")


@blueprint.route("/account/2fa", methods=["POST"])
@rate_limited(Limit.SECOND_FACTOR, answers_form=True)
@login_required
async def turn_on() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(CodeForm)
    if user.totp_enabled_at is not None or user.totp_secret is None:
        return see_other("twofactor.settings")  # on already (another tab), or not set up
    if (answer := await _form_refused(user, form, "first_code")) is not None:
        return answer
    step = codes.matching_step(user.totp_secret, codes.normalise(form.code.data or ""), utcnow())
    if step is None:
        _add_error(form, "code", WRONG_CODE)
        return await _settings_page(user, first_code=form, status=400)
    new_codes = codes.new_recovery_codes()
    async with transaction() as session:
        turned_on = await store.enable(
            session, user.id, step, [codes.hash_recovery_code(c) for c in new_codes], utcnow()
        )
        if turned_on:
            await messages.app_turned_on(session, user)
    if not turned_on:
        return see_other("twofactor.settings")
    auth_log.info("two-factor turned on user_id=%s", user.id)
    return await _codes_page(new_codes, "Two-factor sign-in is on.")


@blueprint.route("/account/2fa/turn-off", methods=["POST"])
@rate_limited(Limit.ACCOUNT_PASSWORD, answers_form=True)
@login_required
async def turn_off() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(TurnOffForm)
    if user.totp_enabled_at is None:
        return see_other("twofactor.settings")
    if (answer := await _form_refused(user, form, "turn_off", with_password=True)) is not None:
        return answer
    async with transaction() as session:
        taken = await _take_code(session, user, form.code.data or "")
        if taken is not None:
            await store.disable(session, user.id)
            await messages.app_turned_off(session, user)
    if taken is None:
        _add_error(form, "code", WRONG_CODE)
        return await _settings_page(user, turn_off=form, status=400)
    auth_log.info("two-factor turned off user_id=%s", user.id)
    await flash("Two-factor sign-in is off: your password alone signs in.", "success")
    return see_other("twofactor.settings")


@blueprint.route("/account/2fa/recovery-codes", methods=["POST"])
@rate_limited(Limit.ACCOUNT_PASSWORD, answers_form=True)
@login_required
async def renew_codes() -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(PasswordForm)
    if user.totp_enabled_at is None:
        return see_other("twofactor.settings")
    if (answer := await _form_refused(user, form, "renew", with_password=True)) is not None:
        return answer
    new_codes = codes.new_recovery_codes()
    async with transaction() as session:
        await store.replace_recovery_codes(
            session, user.id, [codes.hash_recovery_code(c) for c in new_codes]
        )
        await messages.recovery_codes_renewed(session, user)
    auth_log.info("recovery codes renewed user_id=%s", user.id)
    return await _codes_page(new_codes, "New recovery codes are made; the old ones no longer work.")


# --- passkeys in the account ------------------------------------------------------------


def _json_error(message: str, status: int = 400) -> Response:
    return json_answer({"error": message}, status)


@blueprint.route("/account/passkeys/options", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def passkey_options() -> Response:
    user = await require_account()
    async with transaction() as session:
        handle = await store.user_handle(session, user.id)
    existing = await store.passkeys_of(read_session(), user.id)
    if len(existing) >= store.MAX_PASSKEYS:
        return _json_error(f"An account has at most {store.MAX_PASSKEYS} passkeys.")
    try:
        options = passkeys.registration_options(_party(), handle, user.username, existing)
    except PasskeyError as error:
        return _json_error(str(error))
    return no_store(Response(options, mimetype="application/json"))


@blueprint.route("/account/passkeys", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def add_passkey() -> Response:
    user = await require_account()
    form = await posted_form(NewPasskeyForm)
    if not form.validate():
        return _json_error(" ".join(e for errors in form.errors.values() for e in errors))
    try:
        challenge = passkeys.take_challenge(passkeys.REGISTER)
        new = passkeys.verify_registration(_party(), form.credential.data or "", challenge)
    except PasskeyError as error:
        return _json_error(str(error))
    name = form.name.data or ""
    try:
        async with transaction() as session:
            added = await store.add_passkey(
                session,
                user.id,
                credential_id=new.credential_id,
                public_key=new.public_key,
                sign_count=new.sign_count,
                name=name,
                transports=new.transports,
                now=utcnow(),
            )
            if added is not None:
                await messages.passkey_added(session, user, name)
    except IntegrityError:
        return _json_error("That passkey is registered already.")
    if added is None:
        return _json_error(f"An account has at most {store.MAX_PASSKEYS} passkeys.")
    auth_log.info("passkey added user_id=%s passkey_id=%s", user.id, added.id)
    await flash(f"The passkey \u201c{name}\u201d is added.", "success")
    return json_answer({"redirect": url_for("twofactor.settings")})


@blueprint.route("/account/passkeys/<id:passkey_id>/rename", methods=["POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def rename_passkey(passkey_id: int) -> HtmlAnswer | Response:
    user = await require_account()
    form = await posted_form(PasskeyNameForm)
    if answer := await _form_refused(user, form, "rename", shown={passkey_id: form}):
        return answer
    async with transaction() as session:
        found = await store.rename_passkey(session, user.id, passkey_id, form.name.data or "")
    if not found:
        abort(404)
    await flash("The passkey is renamed.", "success")
    return see_other("twofactor.settings")


@blueprint.route("/account/passkeys/<id:passkey_id>/remove", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def remove_passkey(passkey_id: int) -> Response:
    user = await require_account()
    async with transaction() as session:
        name = await store.remove_passkey(session, user.id, passkey_id)
        if name is not None:
            await messages.passkey_removed(session, user, name)
    if name is None:
        abort(404)
    auth_log.info("passkey removed user_id=%s passkey_id=%s", user.id, passkey_id)
    await flash(f"The passkey \u201c{name}\u201d is removed: it no longer signs in.", "success")
    return see_other("twofactor.settings")


# --- signing in -------------------------------------------------------------------------


async def _finish(user: User, remember: bool, next_url: str, how: str) -> str:
    """Start the login; where to go next."""
    pending.clear()
    await log_in(user, remember)
    auth_log.info("login ok user_id=%s by=%s from=%s", user.id, how, request.remote_addr)
    message = f"Logged in as {user.username}."
    if how == "recovery":
        left = await store.recovery_codes_left(read_session(), user.id)
        message += (
            f" That recovery code is used up: {left} left."
            " Make new ones on the two-factor page if you are running out."
        )
    await flash(message, "success")
    return next_url


async def _waiting() -> tuple[pending.PendingLogin, User] | None:
    """The sign-in waiting for its second step and its account, while it still holds."""
    waiting = pending.current()
    if waiting is None:
        return None
    user = await accounts_store.find_user(read_session(), waiting.user_id)
    if user is None or user.totp_enabled_at is None or not waiting.holds_for(user.password_hash):
        pending.clear()  # deleted, turned off, or the password changed meanwhile
        return None
    return waiting, user


async def _second_step_page(form: CodeForm, user: User, status: int = 200) -> tuple[str, int]:
    page = await render_template(
        "twofactor/second_step.html",
        form=form,
        has_passkeys=await store.has_passkeys(read_session(), user.id),
    )
    return page, status


async def _account_refusal(user_id: int) -> int | None:
    """Seconds to wait when this account has had too many second steps tried."""
    wait = await services().rate_limits.hit_account(Limit.SECOND_FACTOR, user_id)
    return None if wait is None else max(1, int(wait + 0.999))


@blueprint.route("/login/2fa", methods=["GET", "POST"])
@rate_limited(Limit.SECOND_FACTOR, answers_form=True)
async def second_step() -> HtmlAnswer | Response:
    found = await _waiting()
    if found is None:
        await flash(SIGN_IN_AGAIN, "error")
        return see_other("accounts.login")
    waiting, user = found
    form = await posted_form(CodeForm)
    if request.method == "GET":
        return await _second_step_page(form, user)
    if (refused := refusal()) is not None and refused.reason is not None:  # a stale page
        form.form_errors.append(refused.message)
        return await _second_step_page(form, user, refused.status)
    wait = refused.retry_after if refused is not None else await _account_refusal(user.id)
    if wait is not None:
        form.form_errors.append(
            f"Too many codes were tried. Wait {wait} seconds, then send the code again."
        )
        return await _second_step_page(form, user, 429)
    if not form.validate():
        return await _second_step_page(form, user, 400)
    async with transaction() as session:
        how = await _take_code(session, user, form.code.data or "")
    if how is None:
        auth_log.info("second step failed user_id=%s from=%s", user.id, request.remote_addr)
        _add_error(form, "code", WRONG_CODE)
        return await _second_step_page(form, user, 400)
    return see_other_path(await _finish(user, waiting.remember, waiting.next_url, how))


@blueprint.route("/login/passkey/options", methods=["POST"])
@rate_limited(Limit.WRITES)  # a challenge in the cookie, nothing checked: the answer counts
async def sign_in_options() -> Response:
    try:
        options = passkeys.authentication_options(_party(), passkeys.SIGN_IN, [])
    except PasskeyError as error:
        return _json_error(str(error))
    return no_store(Response(options, mimetype="application/json"))


async def _passkey_of(credential: str, purpose: str) -> tuple[Passkey, int]:
    """The passkey that signed, checked, and its new signature count."""
    challenge = passkeys.take_challenge(purpose)
    assertion = passkeys.read_assertion(credential)
    read = read_session()
    passkey = await store.passkey_of_credential(read, assertion.credential_id)
    if passkey is None or (
        assertion.user_handle is not None
        and await store.user_of_handle(read, assertion.user_handle) != passkey.user_id
    ):
        raise PasskeyError(
            "This passkey is not one of an account here (it may have been removed). "
            "Log in with your password."
        )
    count = passkeys.verify_assertion(_party(), purpose, assertion, passkey, challenge)
    return passkey, count


async def _passkey_used(passkey: Passkey, sign_count: int) -> None:
    async with transaction() as session:
        await store.passkey_used(session, passkey.id, sign_count, utcnow())


@blueprint.route("/login/passkey", methods=["POST"])
@rate_limited(Limit.LOGIN)
async def sign_in_with_passkey() -> Response:
    form = await posted_form(PasskeySignInForm)
    if not form.validate():
        return _json_error("No passkey was sent.")
    try:
        passkey, count = await _passkey_of(form.credential.data or "", passkeys.SIGN_IN)
    except PasskeyError as error:
        auth_log.info("passkey sign-in refused from=%s", request.remote_addr)
        return _json_error(str(error))
    user = await accounts_store.find_user(read_session(), passkey.user_id)
    if user is None:
        return _json_error("That account no longer exists.")
    if services().mailer.configured and user.email_confirmed_at is None:
        return _json_error("Confirm your e-mail address first.", 403)
    await _passkey_used(passkey, count)
    remember = (await request.form).get("remember") == "y"
    next_url = safe_next(request.args.get("next"))
    return json_answer({"redirect": await _finish(user, remember, next_url, "passkey")})


@blueprint.route("/login/2fa/passkey/options", methods=["POST"])
@rate_limited(Limit.SECOND_FACTOR)
async def second_step_options() -> Response:
    found = await _waiting()
    if found is None:
        return _json_error(SIGN_IN_AGAIN)
    allowed = await store.passkeys_of(read_session(), found[1].id)
    try:
        options = passkeys.authentication_options(_party(), passkeys.SECOND_STEP, allowed)
    except PasskeyError as error:
        return _json_error(str(error))
    return no_store(Response(options, mimetype="application/json"))


@blueprint.route("/login/2fa/passkey", methods=["POST"])
@rate_limited(Limit.SECOND_FACTOR)
async def second_step_with_passkey() -> Response:
    found = await _waiting()
    if found is None:
        return _json_error(SIGN_IN_AGAIN)
    waiting, user = found
    if (wait := await _account_refusal(user.id)) is not None:
        return _json_error(f"Too many tries. Wait {wait} seconds, then try again.", 429)
    form = await posted_form(PasskeySignInForm)
    if not form.validate():
        return _json_error("No passkey was sent.")
    try:
        passkey, count = await _passkey_of(form.credential.data or "", passkeys.SECOND_STEP)
    except PasskeyError as error:
        return _json_error(str(error))
    if passkey.user_id != user.id:
        return _json_error("That passkey is another account's.")
    await _passkey_used(passkey, count)
    return json_answer(
        {"redirect": await _finish(user, waiting.remember, waiting.next_url, "passkey")}
    )
