"""A passkey authenticator in Python, for the server's side of passkeys without a
browser: it answers the options the site gives exactly as a platform authenticator would
("none" attestation, an ES256 key, the person verified). The browser test drives
Chromium's own virtual authenticator instead."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

UP, UV, AT = 0x01, 0x04, 0x40


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    origin: str
    credentials: list[Credential] = field(default_factory=list)
    verifies_person: bool = True

    def _client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            },
            separators=(",", ":"),
        ).encode()

    def _flags(self) -> int:
        return UP | (UV if self.verifies_person else 0)

    def create(self, options: dict[str, Any]) -> str:
        """The answer to ``navigator.credentials.create``, as the page would post it."""
        rp_id = options["rp"]["id"]
        credential = Credential(
            secrets.token_bytes(32),
            ec.generate_private_key(ec.SECP256R1()),
            rp_id,
            base64url_to_bytes(options["user"]["id"]),
        )
        numbers = credential.key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags() | AT])
            + struct.pack(">I", 0)
            + bytes(16)
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + cose_key
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(credential)
        encoded_id = bytes_to_base64url(credential.credential_id)
        return json.dumps(
            {
                "id": encoded_id,
                "rawId": encoded_id,
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(
                        self._client_data("webauthn.create", options["challenge"])
                    ),
                    "attestationObject": bytes_to_base64url(attestation),
                    "transports": ["internal"],
                },
                "clientExtensionResults": {},
            }
        )

    def get(
        self,
        options: dict[str, Any],
        credential: Credential | None = None,
        origin: str | None = None,
    ) -> str:
        """The answer to ``navigator.credentials.get`` with ``credential`` (the first one
        the options allow, by default)."""
        if credential is None:
            allowed = {base64url_to_bytes(c["id"]) for c in options.get("allowCredentials", [])}
            credential = next(
                c for c in self.credentials if not allowed or c.credential_id in allowed
            )
        credential.sign_count += 1
        auth_data = (
            hashlib.sha256(credential.rp_id.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", credential.sign_count)
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        encoded_id = bytes_to_base64url(credential.credential_id)
        return json.dumps(
            {
                "id": encoded_id,
                "rawId": encoded_id,
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "authenticatorData": bytes_to_base64url(auth_data),
                    "signature": bytes_to_base64url(signature),
                    "userHandle": bytes_to_base64url(credential.user_handle),
                },
                "clientExtensionResults": {},
            }
        )
