"""Authentication and authorization of intake: signed tokens, residents' login, who may see which tickets."""

from linli.errors import Unauthenticated
from linli.tokens import Role, TokenKind
from services.intake.auth.authenticator import Authenticator
from services.intake.auth.identity import (
    Caller,
    Resident,
    Service,
    Worker,
    check_claimed_identity,
    check_claimed_resident,
    require_resident,
    require_worker,
)

__all__ = [
    "Authenticator",
    "Caller",
    "Resident",
    "Role",
    "Service",
    "TokenKind",
    "Unauthenticated",
    "Worker",
    "check_claimed_identity",
    "check_claimed_resident",
    "require_resident",
    "require_worker",
]
