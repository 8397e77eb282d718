"""Secrets are hashed with argon2id at production cost (the fixtures' accounts use a cheaper hash, which
the same verification reads its parameters from)."""

from __future__ import annotations

from argon2 import Type, extract_parameters

from services.core.security.passwords import hash_secret, verify_secret
from tests.factories import _PASSWORD_HASH, PASSWORD


def test_new_secrets_are_hashed_with_argon2id_at_production_cost() -> None:
    stored = hash_secret("a-long-enough-secret")
    parameters = extract_parameters(stored)
    assert parameters.type is Type.ID
    assert parameters.time_cost >= 3
    assert parameters.memory_cost >= 65536  # KiB
    assert parameters.parallelism >= 4
    assert verify_secret(stored, "a-long-enough-secret")
    assert not verify_secret(stored, "another-secret")


def test_a_hash_is_verified_with_its_own_parameters() -> None:
    assert extract_parameters(_PASSWORD_HASH).memory_cost < 65536  # the fixtures' cheap hash
    assert verify_secret(_PASSWORD_HASH, PASSWORD)
    assert not verify_secret(_PASSWORD_HASH, PASSWORD + "x")
    assert not verify_secret(None, PASSWORD)
