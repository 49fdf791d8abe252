"""Tenant app credentials from Secrets Manager (``${TENANT_SECRET_PREFIX}${tenant_id}``), cached briefly.

Powertools parameters (and boto3 with it) load on the first read, not with this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inventory_sync.adapters.graph.errors import GraphError
from inventory_sync.domain.error_codes import ErrorCode

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

CACHE_SECONDS = 300


@dataclass(frozen=True)
class ClientSecretCredential:
    client_secret: str = field(repr=False)  # never in reprs, logs or errors


@dataclass(frozen=True)
class CertificateCredential:
    """An app certificate: the token request carries a signed client assertion instead of a secret."""

    certificate_pem: str = field(repr=False)
    private_key_pem: str = field(repr=False)


Credential = ClientSecretCredential | CertificateCredential


class CredentialStore:
    def __init__(self, prefix: str, provider: SecretsProvider | None = None) -> None:
        self.prefix = prefix
        self._provider = provider

    def _secrets(self) -> SecretsProvider:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider()
        return self._provider

    def get(self, tenant_id: int) -> Credential:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

        name = f"{self.prefix}{tenant_id}"
        try:
            value = self._secrets().get(name, transform="json", max_age=CACHE_SECONDS)
        except TransformParameterError:
            raise GraphError(ErrorCode.CREDENTIALS_MISSING, f"secret {name} is not valid JSON") from None
        except GetParameterError:
            raise GraphError(ErrorCode.CREDENTIALS_MISSING, f"secret {name} not found or not readable") from None
        if isinstance(value, dict) and isinstance(value.get("client_secret"), str) and value["client_secret"]:
            return ClientSecretCredential(value["client_secret"])
        if (isinstance(value, dict) and isinstance(value.get("certificate_pem"), str)
                and isinstance(value.get("private_key_pem"), str)):
            return CertificateCredential(value["certificate_pem"], value["private_key_pem"])
        raise GraphError(ErrorCode.CREDENTIALS_MISSING,
                         f"secret {name} has neither client_secret nor certificate_pem + private_key_pem")

    def put(self, tenant_id: int, value: dict[str, str]) -> StoredCredential:
        """Store a tenant's credential (creating its secret on first use); what it returns undoes it (`restore`).
        Raises CredentialStoreError, whose message never holds the value."""
        from aws_lambda_powertools.utilities.parameters.exceptions import SetSecretError

        name = f"{self.prefix}{tenant_id}"
        refused: tuple[type[Exception], ...] = (SetSecretError, *self._client_errors())
        try:
            previous = self._current_value(name)
            answer = self._secrets().set(name, value)
        except refused:
            raise CredentialStoreError(f"could not store secret {name}") from None
        finally:
            self._secrets().clear_cache()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        return StoredCredential(tenant_id, answer["VersionId"], previous)

    def restore(self, stored: StoredCredential) -> bool:
        """Undo `put`: a new secret is deleted; a replaced one gets its previous value back as its current
        version, only while the version `put` stored is still current (a later change wins). True when undone."""
        name = f"{self.prefix}{stored.tenant_id}"
        client = self._secrets().client
        try:
            if stored.previous_value is None:
                client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
                return True
            # (GetSecretValue, which the API function may call, rather than DescribeSecret, which it may not)
            if client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["VersionId"] != stored.version:
                return False
            client.put_secret_value(SecretId=name, SecretString=stored.previous_value)
        except self._client_errors():
            return False
        finally:
            self._secrets().clear_cache()  # type: ignore[no-untyped-call]
        return True

    def _current_value(self, name: str) -> str | None:
        client = self._secrets().client
        try:
            return client.get_secret_value(SecretId=name).get("SecretString")
        except client.exceptions.ResourceNotFoundException:
            return None

    @staticmethod
    def _client_errors() -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)


@dataclass(frozen=True)
class StoredCredential:
    """The credential version `put` made current, and the value it replaced (None: the secret was new)."""

    tenant_id: int
    version: str
    previous_value: str | None = field(repr=False)  # never in reprs, logs or errors


class CredentialStoreError(RuntimeError):
    """Secrets Manager did not take the credential."""
