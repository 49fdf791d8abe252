"""Local stand-in for the HTTP API's JWT authorizer: an RS256 key made on first use, kept in .data/."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from inventory_sync.api.local_auth import AUDIENCE, ISSUER, verify

# ADMIN_GROUP_ID of the local stack: the demo operator's token carries it, so they administer the platform
LOCAL_ADMIN_GROUP = "invsync-platform-admins"


class DevSigner:
    def __init__(self, key_path: Path) -> None:
        if key_path.exists():
            self._key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        else:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key_path.write_bytes(self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
            key_path.chmod(0o600)
        self._public = self._key.public_key()

    def token(self, subject: str, email: str, name: str, lifetime: int = 12 * 3600,
              groups: list[str] | None = None) -> str:
        now = int(time.time())
        claims: dict[str, object] = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "email": email, "name": name,
                                     "iat": now, "nbf": now, "exp": now + lifetime}
        if groups:
            claims["groups"] = groups
        return jwt.encode(claims, self._key, algorithm="RS256")  # type: ignore[arg-type]  # an RSA key, made or read above

    def verify(self, token: str) -> dict[str, str] | None:
        """The claims as API Gateway passes them on (strings), or None when the token is not ours."""
        return verify(token, self._public)

    def public_pem(self) -> str:
        return self._public.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()
