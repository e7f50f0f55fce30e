"""Where EAS calls get their Alibaba Cloud credentials: our chain, which never asks the ECS
metadata address unless the user names an instance role.

``resolve_credentials`` walks ``credentials_chain()`` once, before any request, so a missing
credential is reported as that (``NoCredentialsError``, one line with what was tried and how to
fix it) and never as a refusal from EAS. ``LazyChain`` is the same chain for a client that may
never send a request (``components.eas.api.make_client``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Optional

from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_credentials.provider import (
    CLIProfileCredentialsProvider,
    EcsRamRoleCredentialsProvider,
    OIDCRoleArnCredentialsProvider,
    ProfileCredentialsProvider,
    StaticAKCredentialsProvider,
    StaticSTSCredentialsProvider,
    URLCredentialsProvider,
)
from alibabacloud_credentials_api import ICredentialsProvider

INSTANCE_CREDENTIALS_ENV = "ALIBABA_CLOUD_ECS_METADATA"
"""Names the ECS instance's RAM role: only then is the ECS metadata service asked for credentials."""

NO_CREDENTIALS_HINT = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a profile "
    "(`aliyun configure`, ~/.aliyun/config.json, or ~/.alibabacloud/credentials.ini with "
    "ALIBABA_CLOUD_PROFILE to pick one); on an ECS instance with a RAM role, set "
    f"{INSTANCE_CREDENTIALS_ENV}=<role name>"
)


class NoCredentialsError(RuntimeError):
    """No credentials in the environment, the profiles, or (where asked for) the instance's role."""

    def __init__(self, tried: Sequence[str]) -> None:
        self.tried = tuple(tried)
        super().__init__(f"no Alibaba Cloud credentials found ({', '.join(self.tried)}); {NO_CREDENTIALS_HINT}")


def _quiet_credentials_logger() -> None:
    """Silence the credentials library's logger.

    Its modules attach their own stderr handler to the ``credentials`` logger at import and log
    every failed refresh with a traceback (dozens for one missing credential); the one-line
    error this module raises says what matters.
    """
    logging.getLogger("credentials").disabled = True


def credentials_chain() -> list[tuple[str, Callable[[], ICredentialsProvider]]]:
    """Where credentials are looked for, in order: (what to call it, how to build its provider).

    The library's own default chain ends with the ECS metadata service (100.100.100.200), which
    off ECS only answers after a timeout and leaves a refresh thread behind. Here it is asked only
    when the user named an instance role (``ALIBABA_CLOUD_ECS_METADATA``); a profile of type
    ``ecs_ram_role`` asks for it explicitly too. Environment variables are read when called.
    """
    chain: list[tuple[str, Callable[[], ICredentialsProvider]]] = [("environment variables", _from_environment)]
    if all(os.environ.get(k) for k in ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_ROLE_ARN",
                                       "ALIBABA_CLOUD_OIDC_PROVIDER_ARN")):
        chain.append(("OIDC role", OIDCRoleArnCredentialsProvider))
    chain.append(("aliyun CLI profile", CLIProfileCredentialsProvider))
    chain.append(("credentials file", ProfileCredentialsProvider))
    role = os.environ.get(INSTANCE_CREDENTIALS_ENV)
    if role:
        chain.append((f"ECS instance role {role}",
                      lambda: EcsRamRoleCredentialsProvider(role_name=role, async_update_enabled=False)))
    if os.environ.get("ALIBABA_CLOUD_CREDENTIALS_URI"):
        chain.append(("credentials URI", URLCredentialsProvider))
    return chain


def _from_environment() -> ICredentialsProvider:
    """``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` (/ ``_SECURITY_TOKEN``), read now.

    The library's own environment provider reads them once, when it is imported.
    """
    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN")
    if not key_id or not secret:
        raise CredentialException("ALIBABA_CLOUD_ACCESS_KEY_ID or ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set")
    if token:
        return StaticSTSCredentialsProvider(access_key_id=key_id, access_key_secret=secret, security_token=token)
    return StaticAKCredentialsProvider(access_key_id=key_id, access_key_secret=secret)


def resolve_credentials() -> ICredentialsProvider:
    """The first provider in ``credentials_chain()`` that yields credentials; ``NoCredentialsError`` if none.

    Resolved once, before any request, so a missing credential is reported as that and never as
    a refusal from EAS.
    """
    _quiet_credentials_logger()
    tried: list[str] = []
    for label, build in credentials_chain():
        try:
            provider = build()
            if provider.get_credentials() is not None:
                return provider
        except Exception:  # each provider says "not here" by raising; the chain goes on
            pass
        tried.append(label)
    raise NoCredentialsError(tried)


class LazyChain(ICredentialsProvider):
    """``credentials_chain()`` resolved at the first request (the client may never send one)."""

    def __init__(self) -> None:
        self._provider: Optional[ICredentialsProvider] = None

    def _resolved(self) -> ICredentialsProvider:
        if self._provider is None:
            try:
                self._provider = resolve_credentials()
            except NoCredentialsError as exc:
                raise CredentialException(str(exc)) from None
        return self._provider

    def get_credentials(self) -> Any:
        return self._resolved().get_credentials()

    async def get_credentials_async(self) -> Any:
        return await self._resolved().get_credentials_async()

    def get_provider_name(self) -> str:
        return "qwen3-eas"
