"""The keys that check a bearer token's signature, and the algorithms accepted with them (SEC-01).

A deployment configures exactly one source: a shared secret (HMAC, the development default), a public key in a
PEM file, a JSON Web Key Set in a file, or the identity provider's JWKS URL (fetched and cached by PyJWT's
`PyJWKClient`). Never a secret beside public keys, and never an HMAC algorithm with public keys: a verifier that
accepted both could be handed an HS256 token signed with the public key as its secret (algorithm confusion).
A JWKS key is chosen by the token's `kid`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

if TYPE_CHECKING:
    from ptw_api.http.settings import ApiSettings

log = logging.getLogger("ptw.api")

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)
DEFAULT_PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")
JWKS_TIMEOUT_SECONDS = 5.0

PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey
PrivateKey = RSAPrivateKey | EllipticCurvePrivateKey | Ed25519PrivateKey | Ed448PrivateKey
Key = str | PublicKey | jwt.PyJWK


class VerificationKeys:
    """One configured key source and the algorithms accepted with it."""

    def __init__(self, algorithms: tuple[str, ...], key_for: Callable[[str], Key]) -> None:
        self.algorithms = algorithms
        self._key_for = key_for

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> VerificationKeys:
        """The configured source; a bad setting is a ValueError naming it (`ptw serve` answers a usage error)."""
        sources = {
            "PTW_JWT_PUBLIC_KEY_FILE": settings.jwt_public_key_file,
            "PTW_JWT_JWKS_FILE": settings.jwt_jwks_file,
            "PTW_JWT_JWKS_URL": settings.jwt_jwks_url,
        }
        given = [name for name, value in sources.items() if value]
        if len(given) > 1:
            raise ValueError(f"{' and '.join(given)}: set one source of public keys, not several")
        if not given:
            if not settings.jwt_secret:
                raise ValueError("PTW_JWT_SECRET: no key to check tokens with")
            algorithms = _algorithms(settings.jwt_algorithms, HMAC_ALGORITHMS, default=("HS256",))
            secret = settings.jwt_secret
            return cls(algorithms, lambda _token: secret)
        if settings.jwt_secret:
            raise ValueError(
                f"PTW_JWT_SECRET: not with {given[0]} (an HMAC secret beside public keys invites algorithm "
                "confusion)"
            )
        algorithms = _algorithms(
            settings.jwt_algorithms, PUBLIC_KEY_ALGORITHMS, default=DEFAULT_PUBLIC_KEY_ALGORITHMS
        )
        if settings.jwt_public_key_file:
            key = _public_key(settings.jwt_public_key_file)
            return cls(algorithms, lambda _token: key)
        if settings.jwt_jwks_file:
            key_set = _key_set(settings.jwt_jwks_file)
            return cls(algorithms, lambda token: _by_kid(key_set, token))
        client = _jwks_client(settings.jwt_jwks_url)
        return cls(algorithms, client.get_signing_key_from_jwt)

    def decode(
        self,
        token: str,
        *,
        issuer: str | Sequence[str] | None,
        audience: str | Sequence[str] | None,
        options: Any,
        leeway: int,
    ) -> Any:
        """The verified payload; a key that cannot be found or used is an invalid token (401), never a 500."""
        try:
            return jwt.decode(
                token,
                self._key_for(token),
                algorithms=list(self.algorithms),
                issuer=issuer,
                audience=audience,
                options=options,
                leeway=leeway,
            )
        except jwt.PyJWKClientConnectionError as error:
            log.warning("the JWKS URL cannot be read: %s", error)
            raise jwt.InvalidTokenError("no key to check the token with") from error
        except (jwt.InvalidKeyError, jwt.PyJWKError, jwt.PyJWKClientError) as error:
            raise jwt.InvalidTokenError(str(error)) from error


def _algorithms(
    configured: tuple[str, ...], allowed: tuple[str, ...], *, default: tuple[str, ...]
) -> tuple[str, ...]:
    for algorithm in configured:
        if algorithm not in allowed:
            raise ValueError(
                f"PTW_JWT_ALGORITHMS: {algorithm!r} cannot be accepted with this key source; "
                f"choose from {', '.join(allowed)}"
            )
    return configured or default


def _read(setting: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"{setting}: cannot read {path}: {error.strerror}") from None


def _public_key(path: str) -> PublicKey:
    try:
        key = load_pem_public_key(_read("PTW_JWT_PUBLIC_KEY_FILE", path))
    except ValueError as error:
        raise ValueError(f"PTW_JWT_PUBLIC_KEY_FILE: {path} is not a PEM public key ({error})") from None
    if not isinstance(key, PublicKey):
        raise ValueError(f"PTW_JWT_PUBLIC_KEY_FILE: {path} holds a {type(key).__name__}, not a signing key")
    return key


def _key_set(path: str) -> jwt.PyJWKSet:
    try:
        key_set = jwt.PyJWKSet.from_json(_read("PTW_JWT_JWKS_FILE", path).decode())
    except (ValueError, jwt.PyJWTError) as error:
        raise ValueError(f"PTW_JWT_JWKS_FILE: {path} is not a usable JWK Set ({error})") from None
    if any(key.key_type == "oct" for key in key_set):
        raise ValueError(f"PTW_JWT_JWKS_FILE: {path} holds a symmetric key; it must hold public keys only")
    return key_set


def _by_kid(key_set: jwt.PyJWKSet, token: str) -> jwt.PyJWK:
    kid = jwt.get_unverified_header(token).get("kid")
    if not isinstance(kid, str):
        raise jwt.InvalidTokenError("the token names no key (kid)")
    try:
        return key_set[kid]
    except KeyError:
        raise jwt.InvalidTokenError(f"no key with kid {kid!r}") from None


def _jwks_client(url: str) -> jwt.PyJWKClient:
    if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).netloc:
        raise ValueError(f"PTW_JWT_JWKS_URL: {url!r} is not an http(s) URL")
    return jwt.PyJWKClient(url, cache_jwk_set=True, timeout=JWKS_TIMEOUT_SECONDS)


class SigningKey:
    """A private key that signs development and test tokens for an API configured with public keys."""

    def __init__(self, key: PrivateKey | str, algorithm: str, kid: str | None = None) -> None:
        self.key = key
        self.algorithm = algorithm
        self.kid = kid

    @classmethod
    def from_pem(cls, path: str, kid: str | None = None) -> SigningKey:
        """RS256 for an RSA key, ES256/384/512 by the curve of an EC key, EdDSA for an Edwards key."""
        try:
            key = load_pem_private_key(Path(path).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"{path} is not an unencrypted PEM private key ({error})") from None
        if isinstance(key, RSAPrivateKey):
            return cls(key, "RS256", kid)
        if isinstance(key, EllipticCurvePrivateKey):
            bits = {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size)
            if bits is None:
                raise ValueError(f"{path}: curve {key.curve.name} is not one JWT signs with")
            return cls(key, bits, kid)
        if isinstance(key, Ed25519PrivateKey | Ed448PrivateKey):
            return cls(key, "EdDSA", kid)
        raise ValueError(f"{path} holds a {type(key).__name__}, not a signing key")
