"""What a new password must be, whatever the store: the OWASP Authentication Cheat Sheet's
length bounds, not the username, and not one of the common passwords everyone tries first."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from .models import PASSWORD_MAX_LENGTH

#: 20,000 common passwords, lowercased: Royce Williams' list, as Django ships it
#: (``django/contrib/auth/common-passwords.txt.gz``, BSD licence).
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt.gz")


def password_problem(password: str, *, username: str, min_length: int) -> str | None:
    """Why ``password`` may not be set, or None: too short, too long, the username, or common.

    The bounds follow the OWASP Authentication Cheat Sheet: at least ``min_length`` (8 or more)
    characters, up to 1024, and no password from a list of common ones.
    """
    if len(password) < min_length:
        return f"the password must be at least {min_length} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"the password must be at most {PASSWORD_MAX_LENGTH} characters"
    if password.casefold() == username.casefold():
        return "the password must not be the username"
    if password.casefold() in _common_passwords():
        return "the password is too common; choose another"
    return None


@functools.cache
def _common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines)
