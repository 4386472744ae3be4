"""The generator page (works without JavaScript) and a writer's saved policies."""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, abort, flash, jsonify, render_template, request
from quart_auth import Unauthorized, login_required

from quartapp.accounts.auth import current_account, require_account
from quartapp.models import SavedPolicy
from quartapp.passwords import display, store
from quartapp.passwords.describe import summary
from quartapp.passwords.generator import PolicyError, compile_policy
from quartapp.passwords.rules import describe_rules, import_rules
from quartapp.passwords.schema import GeneratorRequest, from_form, generate_batch
from quartapp.passwords.sentences import ProposedRules, parse_sentence
from quartapp.passwords.sites import (
    SiteRules,
    change_password_url,
    known_domains,
    normalise_domain,
    site_rules,
)
from quartapp.ratelimits import Limit, rate_limited, refusal
from quartapp.services import read_session, transaction
from quartapp.web import HtmlAnswer, as_id, no_store, see_other

blueprint = Blueprint("passwords", __name__, template_folder="templates")
blueprint.add_app_template_filter(display.classed, "classed")
blueprint.add_app_template_filter(display.spelled, "spelled")

NAME_MAX = 60


@blueprint.after_app_request
async def never_cache(response: Response) -> Response:
    """Generated passwords must not stay in any cache, the browser's included: every answer
    of the page and of the API, even one no view of ours made (a 405, a 429)."""
    path = request.path
    if path in {"/passwords", "/api/passwords"} or path.startswith("/passwords/"):
        return no_store(response)
    return response


async def _owned_policy(policy_id: int) -> SavedPolicy:
    """The viewer's own saved policy. Someone else's is a 404, as a missing one is, and a
    visitor is asked to log in either way: no answer tells which policies exist."""
    viewer = await current_account()
    if viewer is None:
        raise Unauthorized()  # a visitor following a saved link: log in first
    policy = await store.get_policy(read_session(), policy_id)
    if policy is None or policy.user_id != viewer.id:
        abort(404)
    return policy


async def _page(
    generator: GeneratorRequest,
    *,
    fields: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notes: tuple[str, ...] = (),
    rules: str = "",
    name: str = "",
    loaded: SavedPolicy | None = None,
    site: SiteRules | None = None,
    site_query: str = "",
    proposal: ProposedRules | None = None,
    sentence: str = "",
    imported_words: list[str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The generator page; with ``errors`` it shows the user's input, and no password
    unless only the name to save the rules under is wrong (the rules themselves are fine).
    A ``proposal`` read from a site's words shows no password until the user confirms it."""
    rule_errors = {field: text for field, text in (errors or {}).items() if field != "name"}
    batch = None if rule_errors or proposal else generate_batch(generator)
    viewer = await current_account()
    policies = await store.list_policies(read_session(), viewer.id) if viewer else []
    page = await render_template(
        "passwords/generator.html",
        fields=fields if fields is not None else generator.as_fields(),
        errors=errors or {},
        rules_invalid=bool(rule_errors),
        password=batch.passwords[0] if batch else None,
        about=summary(batch) if batch else None,
        loaded=loaded,
        policies=policies,
        notes=notes,
        rules=rules,
        name=name,
        site=site,
        site_query=site_query,
        proposal=proposal,
        proposal_words=(
            describe_rules(proposal.policy, proposal.min_length, proposal.max_length)
            if proposal
            else []
        ),
        sentence=sentence,
        imported_words=imported_words or [],
    )
    return page, status


async def _site_page(query: str) -> tuple[str, int]:
    """The page with a known site's rules in the form, in words, and its change page."""
    try:
        found = site_rules(query)
    except PolicyError as error:
        return await _page(GeneratorRequest(), errors=error.errors, site_query=query, status=400)
    if found is None:  # the query is a domain: site_rules would have said otherwise
        domain = normalise_domain(query)
        note = f"No password rules are known for {domain}: set the rules it asks for below."
        if url := change_password_url(domain):
            note += f" Its password is changed at {url}"
        return await _page(GeneratorRequest(), notes=(note,), site_query=query)
    generator_request = GeneratorRequest(password=found.rules.policy, site=found)
    return await _page(
        generator_request, site=found, site_query=query, name=found.domain, notes=found.rules.notes
    )


@blueprint.route("/passwords/sites")
async def known_sites() -> Response:
    """The domains whose rules or change-password page are known: the site box's
    suggestions."""
    return jsonify(known_domains())


@blueprint.route("/passwords/sentence", methods=["POST"])
async def read_sentence() -> HtmlAnswer:
    """Rules read from a site's own words, filled into the form for the user to check."""
    sentence = (await request.form).get("sentence", "")
    try:
        proposal = parse_sentence(sentence)
    except PolicyError as error:
        return await _page(GeneratorRequest(), errors=error.errors, sentence=sentence, status=400)
    generator_request = GeneratorRequest(password=proposal.policy)
    try:
        compile_policy(proposal.policy)
    except PolicyError as error:  # shown beside the fields, for the user to correct
        return await _page(
            generator_request,
            errors=error.errors,
            proposal=proposal,
            sentence=sentence,
            status=400,
        )
    return await _page(generator_request, proposal=proposal, sentence=sentence)


@blueprint.route("/passwords", methods=["GET", "POST"])
async def generator() -> HtmlAnswer:
    if request.method == "GET":
        raw = request.args.get("policy", "")
        if raw:
            policy_id = as_id(raw)
            if policy_id is None:
                abort(404)
            saved = await _owned_policy(policy_id)
            try:
                criteria = store.criteria_of(saved)
            except PolicyError as error:  # saved before a rule tightened
                fields = json.loads(saved.criteria)
                return await _page(
                    GeneratorRequest(),
                    fields=fields,
                    errors=error.errors,
                    name=saved.name,
                    loaded=saved,
                    status=400,
                )
            return await _page(criteria, name=saved.name, loaded=saved)
        if "site" in request.args:
            return await _site_page(request.args["site"][:300])
        return await _page(GeneratorRequest())
    form = await request.form
    try:
        generator_request = from_form(form)
    except PolicyError as error:
        return await _page(GeneratorRequest(), fields=dict(form), errors=error.errors, status=400)
    return await _page(generator_request)


@blueprint.route("/passwords/import", methods=["POST"])
async def import_passwordrules() -> HtmlAnswer:
    rules = (await request.form).get("rules", "")
    try:
        imported = import_rules(rules)
    except PolicyError as error:
        return await _page(GeneratorRequest(), errors=error.errors, rules=rules, status=400)
    generator_request = GeneratorRequest(password=imported.policy)
    return await _page(
        generator_request, notes=imported.notes, rules=rules, imported_words=imported.describe()
    )


def _policy_name(form: dict[str, str], errors: dict[str, str]) -> str:
    name = " ".join(form.get("name", "").split())
    if not name:
        errors["name"] = "Give these rules a name, like the system they are for."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Names are at most {NAME_MAX} characters."
    return name


async def _save(loaded: SavedPolicy | None) -> HtmlAnswer | Response:
    viewer = await require_account()
    form = dict(await request.form)
    errors: dict[str, str] = {}
    name = _policy_name(form, errors)
    generator_request = GeneratorRequest()  # the page's defaults, only shown with the errors
    try:
        generator_request = from_form(form)
    except PolicyError as error:
        errors.update(error.errors)
    if (refused := refusal()) is not None:
        errors["name"] = refused.message
        return await _page(
            generator_request,
            fields=form,
            errors=errors,
            name=name,
            loaded=loaded,
            status=refused.status,
        )
    if not errors:
        try:
            async with transaction() as session:
                saved: SavedPolicy | None
                if loaded is None:
                    saved = await store.create_policy(session, viewer.id, name, generator_request)
                else:
                    saved = await store.update_policy(session, loaded.id, name, generator_request)
        except store.DuplicateNameError:
            errors["name"] = "You already have rules with that name."
        except store.TooManyPoliciesError:
            errors["name"] = f"You can keep at most {store.MAX_POLICIES_PER_USER} saved rules."
        else:
            if saved is not None:
                await flash(f"Saved the rules “{name}”.", "success")
                return see_other("passwords.generator", policy=saved.id)
            # Deleted in another window meanwhile: offer to save them anew, nothing lost.
            errors["name"] = "These rules were deleted meanwhile. Save them again to keep them."
            loaded = None
    return await _page(
        generator_request, fields=form, errors=errors, name=name, loaded=loaded, status=400
    )


@blueprint.route("/passwords/policies", methods=["POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def create_policy() -> HtmlAnswer | Response:
    return await _save(None)


@blueprint.route("/passwords/policies/<id:policy_id>", methods=["POST"])
@rate_limited(Limit.WRITES, answers_form=True)
@login_required
async def update_policy(policy_id: int) -> HtmlAnswer | Response:
    return await _save(await _owned_policy(policy_id))


@blueprint.route("/passwords/policies/<id:policy_id>/delete", methods=["POST"])
@rate_limited(Limit.WRITES)
@login_required
async def delete_policy(policy_id: int) -> Response:
    policy = await _owned_policy(policy_id)
    async with transaction() as session:
        await store.delete_policy(session, policy.id)
    await flash(f"Deleted the rules “{policy.name}”.", "success")
    return see_other("passwords.generator")
