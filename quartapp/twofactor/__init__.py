"""Two-factor sign-in: an authenticator app's codes (with recovery codes) and passkeys."""
