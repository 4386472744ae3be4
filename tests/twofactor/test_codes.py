"""The codes' pure core (quartapp/twofactor/codes.py): RFC 6238 with a one-step window,
recovery codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

from quartapp.twofactor import codes

# RFC 6238, appendix B: the SHA-1 test key, and its 8-digit code at 59 s is 94287082,
# whose last six digits are the 6-digit code.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
AT_59 = datetime.fromtimestamp(59, UTC)


def test_the_rfc_6238_test_vector() -> None:
    assert codes.matching_step(RFC_SECRET, "287082", AT_59) == 1


def test_one_step_either_side_and_no_further() -> None:
    secret = codes.new_secret()
    now = datetime(2026, 12, 5, 12, 0, 10, tzinfo=UTC)
    step = codes.time_step(now)
    totp = pyotp.TOTP(secret)
    for offset in (-1, 0, 1):
        assert codes.matching_step(secret, totp.generate_otp(step + offset), now) == step + offset
    for offset in (-2, 2):
        assert codes.matching_step(secret, totp.generate_otp(step + offset), now) is None
    later = now + timedelta(seconds=90)
    assert codes.matching_step(secret, totp.generate_otp(step), later) is None


def test_only_six_digits_are_an_app_code() -> None:
    secret = codes.new_secret()
    now = datetime(2026, 12, 5, 12, 0, 10, tzinfo=UTC)
    code = pyotp.TOTP(secret).generate_otp(codes.time_step(now))
    assert codes.matching_step(secret, code + "0", now) is None
    assert codes.matching_step(secret, "\u0661" * 6, now) is None  # Arabic-Indic digits
    assert codes.normalise(f" {code[:3]} {code[3:]} ") == code


def test_secrets_are_160_random_bits() -> None:
    secret = codes.new_secret()
    assert len(secret) == 32
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert codes.new_secret() != secret
    assert codes.grouped("ABCDEFGH") == "ABCD EFGH"


def test_the_qr_code_is_an_svg_of_the_address() -> None:
    uri = codes.provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "alice", "journal.example")
    assert uri == (
        "otpauth://totp/journal.example:alice"
        "?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=journal.example"
    )
    svg = codes.qr_svg(uri)
    assert svg.startswith("<svg")
    assert "<script" not in svg
    assert "<path" in svg


def test_recovery_codes() -> None:
    made = codes.new_recovery_codes()
    assert len(made) == 10 == len(set(made))
    for code in made:
        assert len(code) == 19
        assert code.count("-") == 3
        assert set(code.replace("-", "")) <= set(codes.RECOVERY_ALPHABET)
    # Typed with spaces or in capitals, it is the same code.
    first = made[0]
    assert codes.hash_recovery_code(first.upper().replace("-", " ")) == codes.hash_recovery_code(
        first
    )
    assert codes.hash_recovery_code(first) != codes.hash_recovery_code(made[1])
