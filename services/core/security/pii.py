"""Personal data at rest: AES-GCM with versioned keys, a keyed blind index, masking.

Ciphertext layout: ``version (2 bytes, big-endian) | nonce (12) | ciphertext+tag``. The
newest key (highest version in ``GRIDCARE_PII_KEYS``) encrypts; every listed version
decrypts, so keys rotate without downtime (``gridcare rotate-pii-keys`` re-encrypts).
The associated data binds a ciphertext to its column and row, so a value copied into
another row or column does not decrypt.

The blind index is HMAC-SHA256 over the *normalised* value, prefixed with its kind
(``id:``/``phone:``) so equal digits in two columns give unrelated digests. It answers
exact lookups and duplicate checks without decrypting anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.core.config import Settings

_NONCE = 12


class PiiKeyError(RuntimeError):
    """The PII keys are missing, malformed, or do not open a stored value."""


@dataclass(frozen=True)
class PiiCipher:
    """Encrypts, decrypts, indexes; built once per set of keys."""

    keys: dict[int, bytes]
    blind_key: bytes

    @property
    def newest(self) -> int:
        """The key version new ciphertexts carry."""
        if not self.keys:
            raise PiiKeyError("no PII keys configured (GRIDCARE_PII_KEYS)")
        return max(self.keys)

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        """Seal ``plaintext`` under the newest key; ``context`` names column and row."""
        version = self.newest
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self.keys[version]).encrypt(nonce, plaintext.encode(), context.encode())
        return version.to_bytes(2, "big") + nonce + sealed

    def decrypt(self, blob: bytes, *, context: str) -> str:
        """Open a value sealed by ``encrypt`` under any configured key version."""
        version = key_version(blob)
        key = self.keys.get(version)
        if key is None:
            raise PiiKeyError(f"PII key version {version} is not configured")
        try:
            return AESGCM(key).decrypt(blob[2 : 2 + _NONCE], blob[2 + _NONCE :], context.encode()).decode()
        except InvalidTag as exc:
            raise PiiKeyError("a stored PII value failed authentication") from exc

    def blind_index(self, kind: str, normalised: str) -> bytes:
        """Keyed digest of a normalised value, for exact lookup and duplicate detection."""
        return hmac.new(self.blind_key, f"{kind}:{normalised}".encode(), hashlib.sha256).digest()


def key_version(blob: bytes) -> int:
    """The key version a ciphertext was sealed with."""
    return int.from_bytes(blob[:2], "big")


def parse_keys(raw: str) -> dict[int, bytes]:
    """``{"1": "<base64 32 bytes>", ...}`` -> ``{1: key}``; refuses anything else."""
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise PiiKeyError("GRIDCARE_PII_KEYS is not JSON") from exc
    if not isinstance(data, dict):
        raise PiiKeyError("GRIDCARE_PII_KEYS must be a JSON object of version -> base64 key")
    keys: dict[int, bytes] = {}
    for version, encoded in data.items():
        try:
            number = int(version)
            key = base64.b64decode(encoded, validate=True)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise PiiKeyError(f"PII key {version!r} is malformed") from exc
        if not 1 <= number <= 65535 or len(key) != 32:
            raise PiiKeyError(f"PII key {version!r} must have a version 1..65535 and 32 bytes")
        keys[number] = key
    return keys


def cipher_for(settings: Settings) -> PiiCipher:
    """The cipher for these settings (cached by key material)."""
    keys = settings.pii_keys.get_secret_value() if settings.pii_keys else ""
    blind = settings.pii_blind_index_key.get_secret_value() if settings.pii_blind_index_key else ""
    return _cipher(keys, blind)


@lru_cache(maxsize=8)
def _cipher(keys: str, blind: str) -> PiiCipher:
    return PiiCipher(keys=parse_keys(keys), blind_key=blind.encode())


def mask_id_number(value: str) -> str:
    """``500112199001011234`` -> ``5001**********1234``; short numbers keep less."""
    n = len(value)
    if n >= 15:
        return value[:4] + "*" * (n - 8) + value[-4:]
    if n >= 6:
        return value[:1] + "*" * (n - 3) + value[-2:]
    return "*" * n


def mask_phone(value: str) -> str:
    """``13812345678`` -> ``138****5678``; fixed lines keep the area code and two digits."""
    if len(value) == 11 and value.startswith("1"):
        return value[:3] + "****" + value[-4:]
    if "-" in value:
        area, number = value.split("-", 1)
        return area + "-" + "*" * max(len(number) - 2, 0) + number[-2:]
    return "*" * max(len(value) - 2, 0) + value[-2:]


def mask_name(value: str) -> str:
    """``张三丰`` -> ``张**``, ``Li Lei`` -> ``L*****``: the family name (first character) only."""
    value = value.strip()
    return value[:1] + "*" * max(len(value) - 1, 1) if value else value
