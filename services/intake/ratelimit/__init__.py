"""Rate limits of intake's front: per resident (submissions, writes), per worker (callback numbers read in full)
and per client address (requests, logins)."""

from services.intake.ratelimit.limiter import Limit, RateLimiter, Scope

__all__ = ["Limit", "RateLimiter", "Scope"]
