"""Passkeys (WebAuthn) through the ``webauthn`` package: the options a browser is given,
and the checks of what it sends back.

Every ceremony has a fresh random challenge kept in the signed session cookie for five
minutes and taken out when the answer comes, so an answer cannot be replayed. The
relying party is the site's host name: ``SITE_URL``'s when it is set (always in
production), otherwise the host the browser asked for.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import webauthn
from quart import session
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from quartapp.models import Passkey

SITE_NAME = "quartapp"
CEREMONY_SECONDS = 300
_KEY = "passkey_ceremony"
# What the browser sends back is a few kilobytes at most (an attestation with
# certificates the largest); anything longer is refused before it is parsed.
MAX_CREDENTIAL_CHARS = 64_000

REGISTER = "register"
SIGN_IN = "sign_in"  # a passkey alone
SECOND_STEP = "second_step"  # a passkey after the password


class PasskeyError(ValueError):
    """What the browser sent is not a valid answer; the message says so in words."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str


def relying_party(site_url: str, scheme: str, host: str) -> RelyingParty:
    """The site as passkeys know it. Browsers refuse an IP address as its name, so a
    site opened as ``http://127.0.0.1:8000`` is told to use ``localhost`` instead."""
    origin = site_url or f"{scheme}://{host}"
    parts = urlsplit(origin)
    name = parts.hostname or ""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return RelyingParty(id=name, origin=f"{parts.scheme}://{parts.netloc}")
    local = f"{parts.scheme}://localhost" + (f":{parts.port}" if parts.port else "")
    raise PasskeyError(
        "Passkeys need the site's name, not an IP address: "
        f"open {local if ipaddress.ip_address(name).is_loopback else 'it by its name'} instead."
    )


@dataclass(frozen=True)
class NewPasskey:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]


def _remember(purpose: str, challenge: bytes) -> None:
    session[_KEY] = {
        "purpose": purpose,
        "challenge": bytes_to_base64url(challenge),
        "until": int(time.time()) + CEREMONY_SECONDS,
    }


def take_challenge(purpose: str) -> bytes:
    """The challenge of the ceremony under way for ``purpose``, used up."""
    kept = session.pop(_KEY, None)
    if (
        not isinstance(kept, dict)
        or kept.get("purpose") != purpose
        or not isinstance(kept.get("until"), int)
        or kept["until"] < time.time()
        or not isinstance(kept.get("challenge"), str)
    ):
        raise PasskeyError("This passkey request has expired. Try again.")
    return base64url_to_bytes(kept["challenge"])


def _descriptors(passkeys: Sequence[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    known = {transport.value for transport in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=passkey.credential_id,
            transports=[
                AuthenticatorTransport(name)
                for name in passkey.transports.split(",")
                if name in known
            ]
            or None,
        )
        for passkey in passkeys
    ]


def registration_options(
    party: RelyingParty, user_handle: bytes, username: str, existing: Sequence[Passkey]
) -> str:
    """Options for ``navigator.credentials.create``, as JSON: a discoverable credential
    (so it can sign in without a username), none the account has already."""
    options = webauthn.generate_registration_options(
        rp_id=party.id,
        rp_name=SITE_NAME,
        user_id=user_handle,
        user_name=username,
        user_display_name=username,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    _remember(REGISTER, options.challenge)
    return webauthn.options_to_json(options)


def _parsed(credential: str) -> dict[str, Any]:
    if not credential or len(credential) > MAX_CREDENTIAL_CHARS:
        raise PasskeyError("The browser's answer is missing or too long.")
    try:
        found = json.loads(credential)
    except ValueError:
        raise PasskeyError("The browser's answer is not JSON.") from None
    if not isinstance(found, dict):
        raise PasskeyError("The browser's answer is not a credential.")
    return found


def verify_registration(party: RelyingParty, credential: str, challenge: bytes) -> NewPasskey:
    """Check a new passkey against the ``challenge`` given for it (``take_challenge``)."""
    answer = _parsed(credential)
    try:
        verified = webauthn.verify_registration_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=party.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise PasskeyError(f"The passkey could not be checked: {error}") from None
    transports = answer.get("response", {}).get("transports", [])
    return NewPasskey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(name) for name in transports if isinstance(name, str)][:8]
        if isinstance(transports, list)
        else [],
    )


def authentication_options(party: RelyingParty, purpose: str, allowed: Sequence[Passkey]) -> str:
    """Options for ``navigator.credentials.get``, as JSON. Signing in with a passkey
    alone lists none (the authenticator offers the site's) and needs the person verified
    (PIN or biometrics): it stands for both factors. As a second step it lists the
    account's passkeys."""
    options = webauthn.generate_authentication_options(
        rp_id=party.id,
        allow_credentials=_descriptors(allowed) if purpose == SECOND_STEP else None,
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if purpose == SIGN_IN
            else UserVerificationRequirement.PREFERRED
        ),
    )
    _remember(purpose, options.challenge)
    return webauthn.options_to_json(options)


@dataclass(frozen=True)
class Assertion:
    """A browser's answer to sign in, parsed but not yet checked."""

    answer: dict[str, Any]
    credential_id: bytes
    user_handle: bytes | None


def read_assertion(credential: str) -> Assertion:
    answer = _parsed(credential)
    try:
        parsed = webauthn.helpers.parse_authentication_credential_json(answer)
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise PasskeyError("The browser's answer is not a passkey signature.") from None
    return Assertion(answer, parsed.raw_id, parsed.response.user_handle)


def verify_assertion(
    party: RelyingParty, purpose: str, assertion: Assertion, passkey: Passkey, challenge: bytes
) -> int:
    """Check the signature with the passkey's public key against the ``challenge`` given
    for it (``take_challenge``); the passkey's new signature count."""
    try:
        verified = webauthn.verify_authentication_response(
            credential=assertion.answer,
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=party.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=purpose == SIGN_IN,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise PasskeyError("That passkey could not sign in. Try again.") from None
    new_count: int = verified.new_sign_count
    return new_count
