"""Getting back in: a forgotten password reset by a link sent by e-mail, and the link that
confirms a new account's address.

Asking for a link answers the same page whether or not an account matches, before
anything is looked up: the lookup and the message are a background task of the request,
so neither the answer nor its timing says who has an account. Links carry a token
(``tokens``); the pages they open keep the token out of the log and out of any Referer.
"""

from __future__ import annotations

import logging

from quart import Blueprint, Response, current_app, flash, g, render_template, request

from quartapp.accounts import messages, store, tokens
from quartapp.accounts.forms import ForgotForm, ResetPasswordForm
from quartapp.accounts.routes import hashing, name_digest, refuse_weak_password
from quartapp.forms import posted_form
from quartapp.models import utcnow
from quartapp.ratelimits import Limit, client_key, rate_limited, refusal
from quartapp.services import read_session, services, transaction
from quartapp.web import HtmlAnswer, no_store, see_other

blueprint = Blueprint("recovery", __name__, template_folder="templates")
auth_log = logging.getLogger("quartapp.auth")


def _keep_token_private(path_without_token: str) -> None:
    """The request's log line shows ``path_without_token``, not the link's token."""
    g.log_path = path_without_token


def _private(page: str, status: int = 200) -> Response:
    """A page opened by a link with a token: cached nowhere, and no Referer from it."""
    response = no_store(Response(page, status, mimetype="text/html"))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def _reset_link_for(name: str, base_url: str) -> None:
    """In the background: a reset link to the account named ``name``, if there is one."""
    user = await store.find_user_for_login(read_session(), name)
    if user is None:
        auth_log.info("password reset asked for no account (name %s)", name_digest(name))
        return
    async with transaction() as session:
        sent = await messages.reset_link(session, user, base_url)
    auth_log.info("password reset asked user_id=%s sent=%s", user.id, sent)


async def _confirmation_for(name: str, base_url: str) -> None:
    """In the background: a new confirmation link, if the account has yet to confirm."""
    user = await store.find_user_for_login(read_session(), name)
    if user is None or user.email_confirmed_at is not None:
        return
    async with transaction() as session:
        sent = await messages.confirmation(session, user, base_url)
    auth_log.info("confirmation link asked again user_id=%s sent=%s", user.id, sent)


@blueprint.route("/forgot", methods=["GET", "POST"])
@rate_limited(Limit.RECOVERY, answers_form=True, name_field="email")
async def forgot() -> HtmlAnswer:
    form = await posted_form(ForgotForm)
    if request.method == "POST":
        if (refused := refusal()) is not None:
            form.form_errors.append(refused.message)
            return await render_template("accounts/forgot.html", form=form), refused.status
        if not form.validate():
            return await render_template("accounts/forgot.html", form=form), 400
        current_app.add_background_task(
            _reset_link_for, form.email.data or "", services().mailer.base_url()
        )
        return await render_template("accounts/link_sent.html", purpose="reset")
    return await render_template("accounts/forgot.html", form=form)


@blueprint.route("/confirm/resend", methods=["POST"])
@rate_limited(Limit.RECOVERY, answers_form=True, name_field="email")
async def resend_confirmation() -> HtmlAnswer:
    form = await posted_form(ForgotForm)
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        return await render_template("accounts/resend.html", form=form), refused.status
    if not form.validate():
        return await render_template("accounts/resend.html", form=form), 400
    current_app.add_background_task(
        _confirmation_for, form.email.data or "", services().mailer.base_url()
    )
    return await render_template("accounts/link_sent.html", purpose="confirm")


@blueprint.route("/confirm/<token>")
async def confirm(token: str) -> Response:
    _keep_token_private("/confirm/[token]")
    async with transaction() as session:
        used = await tokens.use(session, tokens.CONFIRM, token, utcnow())
        user = None if used is None else await store.confirm_email(session, used.user_id, utcnow())
    if user is None:
        page = await render_template(
            "accounts/link_expired.html", purpose="confirm", form=ForgotForm()
        )
        return _private(page, 400)
    auth_log.info("e-mail confirmed user_id=%s", user.id)
    await flash("Your e-mail address is confirmed. Log in to start writing.", "success")
    response = see_other("accounts.login")
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.route("/confirm-email/<token>")
async def confirm_new_email(token: str) -> Response:
    """The link sent to a new address: it becomes the account's, and the old one is told."""
    _keep_token_private("/confirm-email/[token]")
    try:
        async with transaction() as session:
            used = await tokens.use(session, tokens.NEW_EMAIL, token, utcnow())
            user = None if used is None else await store.find_user(session, used.user_id)
            if user is not None and used is not None and used.new_email:
                old_email = user.email
                await store.change_email(session, user.id, used.new_email, utcnow())
                await session.refresh(user)
                await messages.address_changed(session, user, old_email)
    except store.DuplicateUserError:  # another account took it since: nothing changed
        user = None
    if user is None:
        page = await render_template("accounts/link_expired.html", purpose="new_email")
        return _private(page, 400)
    auth_log.info("e-mail changed user_id=%s", user.id)
    await flash("Your new e-mail address is confirmed and in use.", "success")
    response = see_other("accounts.account")
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
@rate_limited(Limit.RECOVERY, answers_form=True)
async def reset(token: str) -> Response:
    _keep_token_private("/reset/[token]")
    form = await posted_form(ResetPasswordForm)
    holder = await tokens.holder(read_session(), tokens.RESET, token, utcnow())
    owner = None if holder is None else await store.find_user(read_session(), holder)
    if owner is None:
        page = await render_template(
            "accounts/link_expired.html", purpose="reset", form=ForgotForm()
        )
        return _private(page, 400)
    if request.method == "GET":
        return _private(await render_template("accounts/reset.html", form=form, token=token))
    if (refused := refusal()) is not None:
        form.form_errors.append(refused.message)
        page = await render_template("accounts/reset.html", form=form, token=token)
        return _private(page, refused.status)
    if form.validate() and not await refuse_weak_password(
        form.password, owner.username, owner.email
    ):
        new_hash = await hashing().hash(form.password.data or "", client=client_key())
        async with transaction() as session:
            used = await tokens.use(session, tokens.RESET, token, utcnow())
            user = None if used is None else await store.find_user(session, used.user_id)
            if user is not None:
                await store.reset_password(session, user.id, new_hash)
                await tokens.void(session, user.id, tokens.RESET)
                await messages.password_changed(session, user)
        if user is not None:
            auth_log.info("password reset user_id=%s from=%s", user.id, request.remote_addr)
            await flash("Your password is changed, and every session was ended. Log in.", "success")
            return see_other("accounts.login")
        # Used in another tab a moment ago: that one won.
        page = await render_template(
            "accounts/link_expired.html", purpose="reset", form=ForgotForm()
        )
        return _private(page, 400)
    return _private(await render_template("accounts/reset.html", form=form, token=token), 400)
