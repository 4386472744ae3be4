"""Two-factor forms. CSRF is checked for every POST in ``quartapp.security``, not here."""

from __future__ import annotations

from wtforms import Form, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from quartapp.forms import strip

CODE_MAX = 64
PASSKEY_NAME_MAX = 64


def _code_field(label: str = "Code") -> StringField:
    return StringField(
        label,
        filters=[strip],
        validators=[
            InputRequired("Enter the 6-digit code from your app, or a recovery code."),
            Length(max=CODE_MAX, message=f"A code is at most {CODE_MAX} characters."),
        ],
    )


def _password_field() -> PasswordField:
    return PasswordField(
        "Your password",
        validators=[
            InputRequired("Enter your password."),
            Length(max=256, message="Passwords are at most 256 characters."),
        ],
    )


class CodeForm(Form):
    """A code: the first one when turning the app on, or the second step of signing in."""

    code = _code_field()


class TurnOffForm(Form):
    password = _password_field()
    code = _code_field("A code from your app, or a recovery code")


class PasswordForm(Form):
    password = _password_field()


class PasskeyNameForm(Form):
    name = StringField(
        "Name",
        filters=[strip],
        validators=[
            InputRequired("Give the passkey a name, like the device it is on."),
            Length(
                max=PASSKEY_NAME_MAX,
                message=f"A passkey's name is at most {PASSKEY_NAME_MAX} characters.",
            ),
        ],
    )


class NewPasskeyForm(PasskeyNameForm):
    """The browser's answer to ``navigator.credentials.create``, as JSON, and a name."""

    credential = StringField("Credential", validators=[InputRequired("No passkey was sent.")])


class PasskeySignInForm(Form):
    credential = StringField("Credential", validators=[InputRequired("No passkey was sent.")])
