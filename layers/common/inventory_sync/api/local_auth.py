"""Claims for `sam local start-api`, which runs no JWT authorizer.

In AWS the HTTP API's JWT authorizer verifies the bearer token and hands the function its claims in
``requestContext.authorizer.jwt.claims``; without them every route answers 401. `sam local start-api`
skips JWT authorizers, so locally this module does the authorizer's part, and only when both hold:

- ``AWS_SAM_LOCAL=true`` — set by SAM's local runtime in every container, never by Lambda;
- ``LOCAL_JWT_PUBLIC_KEY`` — a PEM public key (the local stack's dev signing key); empty in the template.

The token must then carry a valid RS256 signature by that key, an unexpired ``exp``, and the local
issuer and audience. Anything else leaves the event without claims: 401, as in AWS.
"""

from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from inventory_sync.settings import ConfigError

ISSUER = "https://invsync.local/dev"
AUDIENCE = "api://inventory-sync-local"


class LocalAuthSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, defer_build=True)

    aws_sam_local: str = ""  # SAM sets "true"; anything else is off
    local_jwt_public_key: str = ""


def public_key() -> Any:
    """The development key under `sam local` (AWS_SAM_LOCAL=true and LOCAL_JWT_PUBLIC_KEY set), else None. The
    dispatch function's container reads it once per execution environment (`FunctionContainer.local_auth_key`)."""
    settings = LocalAuthSettings()
    if settings.aws_sam_local.strip().lower() != "true" or not settings.local_jwt_public_key.strip():
        return None
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        return load_pem_public_key(settings.local_jwt_public_key.encode())
    except ValueError:
        raise ConfigError("LOCAL_JWT_PUBLIC_KEY is not a PEM public key") from None


def verify(token: str, key: Any) -> dict[str, str] | None:
    """The claims as API Gateway passes them on (strings), or None when the token is not valid for `key`."""
    import jwt  # only here: in AWS this module never gets this far, and cold starts stay as they were

    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER,
                                            options={"require": ["exp", "iss", "aud", "sub"]})
    except jwt.PyJWTError:
        return None
    # API Gateway's JWT authorizer flattens an array claim (`groups`) into one string: "[a b c]"
    return {name: "[" + " ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)
            for name, value in claims.items()}


def authorize(event: dict[str, Any], key: Any) -> None:
    """Under sam local only: put a bearer token's claims, verified with `key`, where the JWT authorizer would."""
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    scheme, _, token = str(headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return
    claims = verify(token.strip(), key)
    if claims:
        context = event.setdefault("requestContext", {})
        context.setdefault("authorizer", {})["jwt"] = {"claims": claims, "scopes": None}
