"""What the fuzz tests share: hypothesis profiles, the tally of examples, callers' tokens, seeded data.

`make test` runs the bounded `linli-fuzz` profile (deterministic, a few dozen examples per target, under ~90 s in
all); `LINLI_FUZZ_EXAMPLES=N` switches to `linli-fuzz-large` with N random examples per target, for the figures of
docs/reliability.md.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

from services.intake.server import IntakeServer

EXAMPLES_VARIABLE = "LINLI_FUZZ_EXAMPLES"
DEFAULT_EXAMPLES = 25
READY_SECONDS = 60.0
CORPUS = Path(__file__).resolve().parents[2] / "services" / "retrieval" / "corpus" / "resolved_cases.jsonl"
# Cases per catalog entry in the retrieval index under fuzz: every party has precedents, start takes seconds.
CASES_PER_ENTRY = 2
COMMUNITY = "恒康居民区"
RESIDENT = "fuzz-resident"
AUTH_KEY = b"linli-fuzz-signing-key-0123456789abcdef"

_COMMON = settings(
    deadline=None,  # a 100,000-character text may take a while on two busy cores: a slow answer is no bug
    database=None,  # no .hypothesis/ folder in the work tree; failures print their reproduction instead
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)
settings.register_profile("linli-fuzz", parent=_COMMON, max_examples=DEFAULT_EXAMPLES, derandomize=True)
settings.register_profile(
    "linli-fuzz-large",
    parent=_COMMON,
    max_examples=int(os.environ.get(EXAMPLES_VARIABLE) or DEFAULT_EXAMPLES),
    phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
)


def fuzz_settings(share: float = 1.0) -> settings:
    """The profile in force (`LINLI_FUZZ_EXAMPLES` set: the large one), with `share` of its examples per target."""
    profile = settings.get_profile("linli-fuzz-large" if os.environ.get(EXAMPLES_VARIABLE) else "linli-fuzz")
    return settings(profile, max_examples=max(1, round(profile.max_examples * share)))


class FuzzTally:
    """Examples run and status codes seen, per target, for the report at the end of the run."""

    def __init__(self) -> None:
        self.codes: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, target: str, code: str) -> None:
        """Counts one example of `target` that was answered with `code`."""
        self.codes[target][code] += 1

    def lines(self) -> list[str]:
        """One line per target: examples, then codes by frequency."""
        return [
            f"{target}: {sum(codes.values())} examples; " + ", ".join(f"{c} {n}" for c, n in codes.most_common())
            for target, codes in sorted(self.codes.items())
        ]


# One per run: the terminal summary reads it.
TALLY = FuzzTally()


@dataclass(frozen=True)
class Callers:
    """`Authorization` values of every kind of caller, and some that must be refused."""

    resident: str
    other_resident: str
    worker: str
    dispatcher: str
    street_worker: str
    admin: str
    service: str
    expired_or_forged: str

    def all(self) -> dict[str, str | None]:
        """Caller name → header value; `anonymous` sends none."""
        return {
            "anonymous": None,
            "garbage": "Bearer not-a-token",
            "forged": self.expired_or_forged,
            "resident": self.resident,
            "other_resident": self.other_resident,
            "worker": self.worker,
            "dispatcher": self.dispatcher,
            "street_worker": self.street_worker,
            "admin": self.admin,
            "service": self.service,
        }


@dataclass
class IntakeUnderFuzz:
    """Intake serving gRPC and HTTP over SQLite, with tickets of one resident to act on."""

    server: IntakeServer
    ticket_ids: list[str]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.grpc.port}"


SEED_TEXTS = (
    "3号楼楼道的灯坏了好几天了,晚上上下楼黑漆漆的",
    "楼上卫生间漏水,我家天花板都湿了",
    "小区消防通道被私家车占了",
    "物业费收支不公开,业委会也不回应",
    "路口的井盖松动了,车开过去哐哐响",
    "电梯三天两头坏,老人上下楼很困难",
)
