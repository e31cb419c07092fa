"""Accounts and access tokens in the store, whatever the store: what ends what, and whose is
whose."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from {{ cookiecutter.package_name }}.resources import Resources
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.users import User, UserStore
from {{ cookiecutter.package_name }}.users.logins import now
from tests.support import PASSWORD

HOUR = timedelta(hours=1)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[UserStore]:
    """The store as a server opens it."""
    resources = Resources(settings)
    await resources.open()
    try:
        yield resources.store
    finally:
        await resources.aclose()


async def test_tokens_belong_to_their_user(store: UserStore) -> None:
    alice = await store.authenticate("alice", PASSWORD)
    assert alice is not None
    bob = await store.create_user("bob", "bob's long passphrase")
    token, secret = await store.create_access_token(alice.id, "ci", ("a:read",), now() + HOUR)
    assert await store.revoke_access_token(bob.id, token.id) is False
    found = await store.user_for_access_token(secret)
    assert found is not None
    assert (found.user, found.token_id, found.scopes) == (alice, token.id, frozenset({"a:read"}))
    assert [listed.id for listed in await store.access_tokens(alice.id)] == [token.id]
    assert await store.access_tokens(bob.id) == []
    assert await store.revoke_access_token(alice.id, token.id) is True
    assert await store.user_for_access_token(secret) is None


@pytest.mark.parametrize("change", ["set_password", "deactivate", "delete"])
async def test_account_changes_end_every_login_and_token(store: UserStore, change: str) -> None:
    alice = await store.authenticate("alice", PASSWORD)
    assert isinstance(alice, User)
    login = await store.start_login(alice, HOUR)
    _, secret = await store.create_access_token(alice.id, "ci", (), None)
    if change == "set_password":
        await store.set_password(alice.id, "a different passphrase")
    elif change == "deactivate":
        await store.set_active(alice.id, False)
    else:
        await store.delete_user(alice.id)
    assert await store.user_for_login(login) is None
    assert await store.user_for_access_token(secret) is None
    assert await store.authenticate("alice", PASSWORD) is None
    account = await store.account("alice")
    if change == "delete":
        assert account is None
    else:
        assert account is not None
        assert account.is_active is (change != "deactivate")
