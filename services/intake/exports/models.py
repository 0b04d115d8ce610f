"""What an export holds: its columns (Chinese headers, kinds, widths), its row cap, and who is told of it.

An export carries no personal data: no phone, no openid, no resident id; texts are scrubbed (linli.pii) as they
are for learning. Times are Shanghai's, as the residents and workers read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from linli.errors import InvalidArgument

# More rows than this is no "view" any more: narrow the filters (the audit log then names a smaller export).
MAX_EXPORT_ROWS = 50_000

# Told of every export as it starts: (actor, what, row_count). The audit log (services/intake/audit) plugs in here.
ExportRecorder = Callable[[str, str, int], None]


def not_recorded(_actor: str, _what: str, _row_count: int) -> None:
    """The default recorder, until the audit log is wired in: records nothing."""


class ExportTooLarge(InvalidArgument):
    """The view holds more rows than an export may: 413, the filters must narrow it."""

    http_status = 413
    slug = "payload_too_large"


class CellKind(StrEnum):
    """How a value is written: Excel needs real dates and numbers, CSV writes them as text."""

    TEXT = "text"
    NUMBER = "number"
    TIME = "time"  # a Shanghai local date and time
    DAY = "day"  # a date
    RATE = "rate"  # a fraction shown as a percentage


@dataclass(frozen=True)
class Column:
    """One column of an export: its Chinese header, its kind and its width in Excel."""

    header: str
    kind: CellKind
    width: int


TICKET_COLUMNS = (
    Column("工单编号", CellKind.TEXT, 34),
    Column("收到时间", CellKind.TIME, 18),
    Column("小区", CellKind.TEXT, 16),
    Column("楼栋", CellKind.TEXT, 10),
    Column("状态", CellKind.TEXT, 10),
    Column("承办单位", CellKind.TEXT, 16),
    Column("紧急程度", CellKind.TEXT, 8),
    Column("办理时限", CellKind.TIME, 18),
    Column("首次受理时间", CellKind.TIME, 18),
    Column("办结时间", CellKind.TIME, 18),
    Column("居民评价", CellKind.NUMBER, 8),
    Column("反映内容", CellKind.TEXT, 60),
    Column("办理结果", CellKind.TEXT, 40),
)

DASHBOARD_COLUMNS = (
    Column("周期开始", CellKind.DAY, 12),
    Column("周期结束(不含)", CellKind.DAY, 14),
    Column("收到工单", CellKind.NUMBER, 10),
    *(
        column
        for name in ("响应", "解决", "满意", "按时办结", "重办", "转派")
        for column in (
            Column(f"{name}率", CellKind.RATE, 10),
            Column(f"{name}数", CellKind.NUMBER, 10),
            Column(f"{name}率分母", CellKind.NUMBER, 12),
        )
    ),
    Column("受理用时中位数(分钟)", CellKind.NUMBER, 20),
    Column("办结用时中位数(小时)", CellKind.NUMBER, 20),
)

STATUS_NAMES = {
    "received": "已收到",
    "routed": "已分派",
    "needs_manual": "待人工分派",
    "accepted": "已受理",
    "in_progress": "处理中",
    "resolved": "已办结",
    "closed": "已关闭",
    "reopened": "重新办理",
    "transferred": "已转派",
    "merged": "已合并",
    "waiting_resident": "待居民答复",
}
URGENCY_NAMES = {"normal": "一般", "urgent": "紧急", "emergency": "危急"}
