"""Account forms. CSRF is checked for every POST in ``quartapp.security``, not here."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, Form, PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, EqualTo, InputRequired, Length, Regexp, ValidationError

from quartapp.forms import EmailAddress, strip
from quartapp.models import PRIVATE, VISIBILITIES

USERNAME_PATTERN = r"^[A-Za-z0-9_-]+$"
PASSWORD_MIN = 8
PASSWORD_MAX = 256
ABOUT_MAX = 500


def _new_password_field(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired("Choose a password."),
            Length(
                PASSWORD_MIN,
                PASSWORD_MAX,
                f"Passwords are {PASSWORD_MIN} to {PASSWORD_MAX} characters long.",
            ),
        ],
    )


def _confirm_field() -> PasswordField:
    return PasswordField(
        "Type the password again",
        validators=[
            InputRequired("Type the password again."),
            EqualTo("password", "The two passwords do not match."),
        ],
    )


def _username_field(label: str) -> StringField:
    return StringField(
        label,
        filters=[strip],
        validators=[
            InputRequired("Choose a username."),
            Length(3, 32, "Usernames are 3 to 32 characters long."),
            Regexp(USERNAME_PATTERN, message="Use only letters, digits, '_' and '-'."),
        ],
    )


def _email_field(label: str) -> StringField:
    return StringField(
        label,
        filters=[strip],
        validators=[
            InputRequired("Enter your e-mail address."),
            Length(max=254, message="E-mail addresses are at most 254 characters."),
            EmailAddress(),
        ],
    )


class RegisterForm(Form):
    username = _username_field("Username")
    email = _email_field("E-mail")
    password = _new_password_field("Password")
    confirm = _confirm_field()


class LoginForm(Form):
    username = StringField(
        "Username or e-mail",
        filters=[strip],
        validators=[
            InputRequired("Enter your username or e-mail address."),
            Length(max=254, message="That is longer than any username or e-mail address."),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Enter your password."),
            Length(max=PASSWORD_MAX, message="That is longer than any password here."),
        ],
    )
    remember = BooleanField("Keep me logged in on this device")


class ChangePasswordForm(Form):
    current_password = PasswordField(
        "Current password", validators=[InputRequired("Enter your current password.")]
    )
    password = _new_password_field("New password")
    confirm = _confirm_field()

    def validate_password(self, field: Any) -> None:
        if field.data and field.data == self.current_password.data:
            raise ValidationError("The new password is the same as the current one.")


class ProfileForm(Form):
    about = TextAreaField(
        "About me",
        filters=[strip],
        validators=[Length(max=ABOUT_MAX, message=f"At most {ABOUT_MAX} characters.")],
    )
    default_visibility = StringField(
        "Who can read a new entry, unless you choose otherwise",
        default=PRIVATE,
        validators=[AnyOf(VISIBILITIES, "Choose 'public' or 'private'.")],
    )


class DeleteAccountForm(Form):
    password = PasswordField(
        "Your password", validators=[InputRequired("Enter your password to confirm.")]
    )


class ForgotForm(Form):
    """An account named by its e-mail address or username (the box people remember)."""

    email = StringField(
        "E-mail address or username",
        filters=[strip],
        validators=[
            InputRequired("Enter your e-mail address or username."),
            Length(max=254, message="That is longer than any username or e-mail address."),
        ],
    )


class ResetPasswordForm(Form):
    password = _new_password_field("New password")
    confirm = _confirm_field()


class UsernameForm(Form):
    username = _username_field("New username")


class ChangeEmailForm(Form):
    email = _email_field("New e-mail address")
    password = PasswordField(
        "Your password", validators=[InputRequired("Enter your password to confirm.")]
    )
