"""Tenants, their Graph credential and their members, as platform administrators and owners change them.

Request bodies are validated here (unknown fields refused, sizes bounded); a credential's secret parts are
``SecretStr``, so they stay out of reprs, logs and error messages, and leave this module only as the
Secrets Manager value.
"""

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from inventory_sync.domain.limits import all_storable

Role = Literal["owner", "operator", "reader"]
TenantStatus = Literal["active", "inactive"]

# an Entra directory: its id (a GUID) or a verified domain such as contoso.onmicrosoft.com
_DIRECTORY = re.compile(r"^(?:[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
                        r"|(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$")
_GUID = r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
_PEM_MAX = 16 * 1024


def _refuse_nul(data: Any) -> Any:
    """PostgreSQL text cannot hold NUL (nor UTF-8 a lone surrogate): invalid input, not a failed INSERT. The
    API's edge refuses such a body first; this keeps the rule for every other caller of these models."""
    if not all_storable(data):
        raise ValueError("text must not contain NUL characters or lone surrogates")
    return data


class CredentialIn(BaseModel):
    """A tenant's app registration credential: a client secret, or a certificate with its private key."""

    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True)
    _no_nul = model_validator(mode="before")(_refuse_nul)

    client_id: str = Field(pattern=_GUID, description="the app registration's application (client) id")
    client_secret: SecretStr | None = Field(default=None, min_length=1, max_length=1024)
    certificate_pem: str | None = Field(default=None, max_length=_PEM_MAX)
    private_key_pem: SecretStr | None = Field(default=None, max_length=_PEM_MAX)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        has_secret = self.client_secret is not None
        has_cert = self.certificate_pem is not None or self.private_key_pem is not None
        if has_secret == has_cert:
            raise ValueError("give either client_secret, or certificate_pem with private_key_pem")
        if has_cert:
            if self.certificate_pem is None or self.private_key_pem is None:
                raise ValueError("certificate_pem and private_key_pem go together")
            _check_certificate(self.certificate_pem, self.private_key_pem.get_secret_value())
        return self

    @property
    def kind(self) -> Literal["client_secret", "certificate"]:
        return "client_secret" if self.client_secret is not None else "certificate"

    def secret_value(self) -> dict[str, str]:
        """What Secrets Manager keeps (the shape run_sync reads)."""
        if self.client_secret is not None:
            return {"client_secret": self.client_secret.get_secret_value()}
        assert self.certificate_pem is not None and self.private_key_pem is not None
        return {"certificate_pem": self.certificate_pem, "private_key_pem": self.private_key_pem.get_secret_value()}

    def audit_metadata(self) -> dict[str, Any]:
        """What the audit trail may say about it: never secret material."""
        meta: dict[str, Any] = {"client_id": self.client_id, "kind": self.kind}
        if self.certificate_pem is not None:
            meta["certificate_thumbprint_sha256"] = _thumbprint(self.certificate_pem)
        return meta


def _check_certificate(certificate_pem: str, private_key_pem: str) -> None:
    """An X.509 certificate and the private key of the same key pair (the token request signs with it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("certificate_pem / private_key_pem: not a PEM certificate and unencrypted private key"
                         ) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (cert.public_key().public_bytes(serialization.Encoding.DER, public)
            != key.public_key().public_bytes(serialization.Encoding.DER, public)):
        raise ValueError("the private key does not belong to the certificate")


def _thumbprint(certificate_pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_pem_x509_certificate(certificate_pem.encode()).fingerprint(hashes.SHA256()).hex()


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True)
    _no_nul = model_validator(mode="before")(_refuse_nul)

    name: str = Field(min_length=1, max_length=200)
    graph_tenant_id: str = Field(max_length=255, description="the Entra directory id or a verified domain")
    credential: CredentialIn
    scheduled_sync_enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("graph_tenant_id")
    @classmethod
    def _directory(cls, value: str) -> str:
        if not _DIRECTORY.match(value):
            raise ValueError("must be a directory id (GUID) or a domain name")
        return value.lower()


class TenantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True)
    _no_nul = model_validator(mode="before")(_refuse_nul)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: TenantStatus | None = None
    scheduled_sync_enabled: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, status, scheduled_sync_enabled")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.name is not None and not self.name.strip():
            raise ValueError("name must not be blank")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: (getattr(self, name).strip() if name == "name" else getattr(self, name))
                for name in sorted(self.model_fields_set)}


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True, defer_build=True)
    _no_nul = model_validator(mode="before")(_refuse_nul)

    subject: str = Field(min_length=1, max_length=255, description="the user's token subject (oid or sub)")
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    role: Role

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        if value != value.strip() or not value:
            raise ValueError("must not have leading or trailing spaces")
        return value


def claim_values(value: object) -> frozenset[str]:
    """A multi-valued claim (`groups`, `roles`) as a set. A JWT carries a JSON array; API Gateway's JWT
    authorizer hands it to the function flattened into one string such as ``[a b c]``."""
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple | set | frozenset):
        items = [str(v) for v in value]
    else:
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = re.split(r"[\s,]+", text)
    return frozenset(item.strip().strip('"') for item in items if item.strip().strip('"'))
