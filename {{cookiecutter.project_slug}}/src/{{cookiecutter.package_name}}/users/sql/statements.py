"""The SQLite store's statements, built once with bound parameters.

SQLAlchemy caches compiled SQL by a statement's structure, but building a select and computing
that cache key costs more than running the login lookup itself on SQLite; a prebuilt statement
skips both.
"""

from __future__ import annotations

import sqlalchemy as sa

from .tables import access_tokens, logins, users

USER_BY_NAME = sa.select(
    users.c.id, users.c.username, users.c.password_hash, users.c.is_active
).where(users.c.username == sa.bindparam("username"))
SET_PASSWORD_HASH = (
    sa.update(users)
    .where(users.c.id == sa.bindparam("user_id"))
    .values(password_hash=sa.bindparam("password_hash"))
)
INSERT_USER = sa.insert(users).returning(users.c.id)
DELETE_EXPIRED_LOGINS = sa.delete(logins).where(
    logins.c.user_id == sa.bindparam("user_id"),
    logins.c.expires_at <= sa.bindparam("now"),
)
INSERT_LOGIN = sa.insert(logins)
USERS_FOR_LOGINS = (
    sa.select(logins.c.token_hash, users.c.id, users.c.username)
    .join(logins, logins.c.user_id == users.c.id)
    .where(logins.c.token_hash.in_(sa.bindparam("token_hashes", expanding=True)))
    .where(logins.c.expires_at > sa.bindparam("now"))
    .where(users.c.is_active)
)
DELETE_LOGIN = sa.delete(logins).where(logins.c.token_hash == sa.bindparam("token_hash"))
PING = sa.select(users.c.id).limit(1)

ACCOUNT_BY_NAME = sa.select(
    users.c.id, users.c.username, users.c.is_active, users.c.created_at
).where(users.c.username == sa.bindparam("username"))
ACCOUNTS = sa.select(users.c.id, users.c.username, users.c.is_active, users.c.created_at).order_by(
    users.c.username
)
SET_ACTIVE = (
    sa.update(users)
    .where(users.c.id == sa.bindparam("user_id"))
    .values(is_active=sa.bindparam("active"))
)
DELETE_USER = sa.delete(users).where(users.c.id == sa.bindparam("user_id"))
DELETE_LOGINS_OF = sa.delete(logins).where(logins.c.user_id == sa.bindparam("user_id"))
DELETE_TOKENS_OF = sa.delete(access_tokens).where(
    access_tokens.c.user_id == sa.bindparam("user_id")
)
INSERT_TOKEN = sa.insert(access_tokens).returning(access_tokens.c.id)
TOKENS_OF = (
    sa.select(
        access_tokens.c.id,
        access_tokens.c.name,
        access_tokens.c.scopes,
        access_tokens.c.created_at,
        access_tokens.c.expires_at,
    )
    .where(access_tokens.c.user_id == sa.bindparam("user_id"))
    .order_by(access_tokens.c.id)
)
DELETE_TOKEN = sa.delete(access_tokens).where(
    access_tokens.c.id == sa.bindparam("token_id"),
    access_tokens.c.user_id == sa.bindparam("user_id"),
)
USERS_FOR_TOKENS = (
    sa.select(
        access_tokens.c.token_hash,
        access_tokens.c.id.label("token_id"),
        access_tokens.c.scopes,
        users.c.id,
        users.c.username,
    )
    .join(access_tokens, access_tokens.c.user_id == users.c.id)
    .where(access_tokens.c.token_hash.in_(sa.bindparam("token_hashes", expanding=True)))
    .where(
        sa.or_(
            access_tokens.c.expires_at.is_(None),
            access_tokens.c.expires_at > sa.bindparam("now"),
        )
    )
    .where(users.c.is_active)
)

#: Keys per query in a batch of lookups: far below SQLite's limit on bound parameters.
LOOKUP_CHUNK = 500
