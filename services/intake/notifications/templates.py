"""What a resident reads about each event kind: the one place that turns events into 订阅消息 template data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

from linli.parties import display_name
from services.intake.notifications.events import OutboundEvent
from services.intake.notifications.settings import WeChatTemplateKeys

# Residents read Beijing time; China has no daylight saving, so a fixed offset needs no tz database.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# WeChat rejects values longer than their field type allows (the key's prefix names the type), so we cut them.
MAX_LENGTH_BY_FIELD_TYPE: dict[str, int] = {"thing": 20, "phrase": 5, "name": 10, "character_string": 32}
ELLIPSIS = "…"


@dataclass(frozen=True)
class KindText:
    """The status shown for one event kind (a `phrase`: ≤ 5 characters) and the note used when the event has none."""

    status: str
    default_note: str


KIND_TEXTS: dict[str, KindText] = {
    "routed": KindText("已派单", "已派给{party}处理"),
    "needs_manual": KindText("待派单", "社区工作人员将尽快为您分派"),
    "accepted": KindText("已受理", "{party}已受理您的诉求"),
    "transferred": KindText("已转派", "已转交{party}处理"),
    "escalated": KindText("已升级", "已升级处理,请耐心等待"),
    "resolved": KindText("已办结", "问题已处理,欢迎评价"),
    "reopened": KindText("重新处理", "已重新处理您的诉求"),
    "worker_message": KindText("新留言", "{party}给您留言了,请查看"),
}
OTHER_KIND = KindText("有进展", "您的诉求有新进展")
NO_PARTY = "待分派"


def _fit(key: str, value: str) -> str:
    field_type = key.rstrip("0123456789")
    limit = MAX_LENGTH_BY_FIELD_TYPE.get(field_type)
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1] + ELLIPSIS if field_type == "thing" else value[:limit]


def _party(event: OutboundEvent) -> str:
    # A transfer names where the ticket went; the event's party is the holder after the change otherwise.
    destination = event.payload.get("to_party") if event.kind == "transferred" else None
    party = destination if isinstance(destination, str) and destination else event.party
    return display_name(party) if party else NO_PARTY


def resident_template_data(event: OutboundEvent, keys: WeChatTemplateKeys) -> dict[str, str]:
    """Template data (key → value) of the subscription message telling the resident about `event`.

    工单状态 is the kind's short status, 处理部门 the party's Chinese name, 备注 the event's `note` or a sentence for
    the kind, 时间 the change's time in Beijing time; each value is cut to what its WeChat field type allows.
    """
    text = KIND_TEXTS.get(event.kind, OTHER_KIND)
    party = _party(event)
    note = event.payload.get("note")
    values = {
        keys.status: text.status,
        keys.party: party,
        keys.note: note.strip() if isinstance(note, str) and note.strip() else text.default_note.format(party=party),
        keys.time: event.occurred_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
    }
    return {key: _fit(key, value) for key, value in values.items()}
