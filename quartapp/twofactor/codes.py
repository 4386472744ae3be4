"""The codes of the second step, without I/O: authenticator-app codes (RFC 6238 through
pyotp) and single-use recovery codes.

An app's code is checked against the time step now and one either side (clocks drift, and
a code typed at the end of its 30 seconds arrives in the next), and the step it matched is
returned so the caller can refuse that step, and every earlier one, from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps either side of now
RECOVERY_CODES = 10
# No 0/o, 1/l/i: a code is read off paper. 31 signs, 16 of them: 79 random bits each.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_LENGTH = 16
_SEPARATORS = re.compile(r"[\s-]+")


def new_secret() -> str:
    """160 random bits in base32, as RFC 4226 recommends and every app reads."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` address an app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The address as a QR code, an inline SVG drawn here (no script, no third party)."""
    svg: str = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#111", light="#fff", title="QR code for your authenticator app"
    )
    return svg


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it in by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def normalise(code: str) -> str:
    """What was typed, without spaces or dashes, in lower case."""
    return _SEPARATORS.sub("", code).lower()


def looks_like_app_code(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is, within the window; None if none."""
    if not looks_like_app_code(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # Every step is compared, in constant time, so timing tells nothing.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def new_recovery_codes() -> list[str]:
    """Ten fresh codes, shown to the owner once, as ``xxxx-xxxx-xxxx-xxxx``."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4)))
    return codes


def hash_recovery_code(code: str) -> str:
    """Kept only as SHA-256: 79 random bits need no slow hash for a stolen copy of the
    table to be useless (the slow hash is for passwords people choose)."""
    return hashlib.sha256(normalise(code).encode()).hexdigest()
