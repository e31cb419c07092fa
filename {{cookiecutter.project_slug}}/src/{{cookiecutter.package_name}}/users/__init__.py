"""Users and their logins: the store interface, its implementations, and passwords.

Nothing here knows Flask or the web layer (import-linter checks that): a store is called with
plain values and answers with :class:`User`, so the same store serves views, the CLI and tests.
"""

from .models import (
    PASSWORD_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    AccessToken,
    Account,
    StoreUnavailable,
    TokenUser,
    User,
    UsernameTaken,
    UserStore,
    normalize_username,
    validate_username,
)

__all__ = [
    "PASSWORD_MAX_LENGTH",
    "USERNAME_MAX_LENGTH",
    "AccessToken",
    "Account",
    "StoreUnavailable",
    "TokenUser",
    "User",
    "UserStore",
    "UsernameTaken",
    "normalize_username",
    "validate_username",
]
