"""GET /v1/search/tickets on SQLite: words of the text (two characters and more), building, resolution, ticket
number, ordering and pages, kept in step with updates and erasure, and hostile queries."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.intake.residents.erasure import ErasureFlows
from tests.tokens import as_resident, as_worker, bearer, service_token
from tests.unit.intake.fakes import Intake
from tests.unit.intake.search.conftest import PM, search, ticket

LEAK = "3号楼地下室漏水严重，墙面发霉"
LIFT = "电梯经常停在半路，老人被困过两次"


def test_a_word_of_the_text_finds_the_ticket_three_characters_and_two(client: TestClient, intake: Intake) -> None:
    leak = ticket(client, intake, LEAK)
    lift = ticket(client, intake, LIFT)
    assert search(client, "地下室") == [leak]
    assert search(client, "漏水") == [leak]
    assert search(client, "电梯") == [lift]
    assert search(client, "被困过两次") == [lift]
    assert search(client, "停车") == []


def test_building_and_resolution_words_find_it(client: TestClient, intake: Intake) -> None:
    by_building = ticket(client, intake, "楼道灯坏了很久", building="12号楼")
    resolved = ticket(client, intake, "垃圾桶满了没人清")
    assert search(client, "12号楼") == [by_building]
    assert search(client, "12号") == [by_building]
    assert client.post(f"/v1/tickets/{resolved}/accept").status_code == 200
    assert search(client, "更换新桶") == []
    reply = client.post(f"/v1/tickets/{resolved}/resolve", json={"resolution": "已清运并更换新桶"})
    assert reply.status_code == 200, reply.text
    assert search(client, "更换新桶") == [resolved]
    assert search(client, "清运") == [resolved]


def test_the_ticket_number_and_its_first_characters_find_it(client: TestClient, intake: Intake) -> None:
    ticket_id = ticket(client, intake, LEAK)
    ticket(client, intake, LIFT)
    assert search(client, ticket_id) == [ticket_id]
    assert search(client, ticket_id[:8]) == [ticket_id]
    assert search(client, ticket_id[:8].upper()) == [ticket_id]
    hit = client.get("/v1/search/tickets", params={"q": ticket_id[:8]}).json()["results"][0]
    assert (hit["matched"], hit["snippet"]) == ("ticket_number", None)


def test_better_matches_come_first_then_the_newest(client: TestClient, intake: Intake) -> None:
    in_resolution = ticket(client, intake, "门禁坏了")
    client.post(f"/v1/tickets/{in_resolution}/accept")
    client.post(f"/v1/tickets/{in_resolution}/resolve", json={"resolution": "已修好，5号楼门禁换新"})
    older_text = ticket(client, intake, "5号楼门口积水")
    newer_text = ticket(client, intake, "5号楼电梯异响")
    in_building = ticket(client, intake, "楼下有人吵闹", building="5号楼")
    assert search(client, "5号楼") == [in_building, newer_text, older_text, in_resolution]
    reply = client.get("/v1/search/tickets", params={"q": "5号楼"}).json()["results"]
    assert [hit["matched"] for hit in reply] == ["building", "text", "text", "resolution"]
    assert reply[1]["snippet"] == {"field": "text", "before": "", "match": "5号楼", "after": "电梯异响"}


def test_pages_follow_each_other_without_repeats_or_gaps(client: TestClient, intake: Intake) -> None:
    made = [ticket(client, intake, f"第{n}次反映漏水问题", building="7号楼" if n % 3 == 0 else "") for n in range(7)]
    for size in (1, 2, 3, 7, 8):
        found = search(client, "漏水", page_size=size)
        assert sorted(found) == sorted(made)
        assert len(found) == len(set(found))
    assert search(client, "漏水", page_size=2)[:3] == search(client, "漏水")[:3]


def test_other_parties_and_communities_are_never_found(client: TestClient, intake: Intake) -> None:
    mine = ticket(client, intake, "小区门口路灯不亮")
    water = ticket(client, intake, "小区门口水管爆裂路灯不亮", party="owners_committee")
    elsewhere = ticket(client, intake, "小区门口路灯不亮了", community="梅林小区")
    assert search(client, "路灯不亮") == [mine]
    assert search(client, water[:8]) == []
    assert search(client, elsewhere) == []
    assert search(client, "路灯", headers=as_worker("w-3", "owners_committee", "西渚社区")) == [water]
    assert search(client, "路灯", headers=as_worker("w-9", "property_manager")) == [elsewhere, mine]
    refused = client.get("/v1/search/tickets", params={"q": "路灯", "community": "梅林小区"})
    assert refused.status_code == 403


def test_a_dispatcher_also_finds_the_manual_queue(client: TestClient, intake: Intake) -> None:
    manual = ticket(client, intake, "不知道该找谁的噪音问题", party="")
    assert search(client, "噪音") == []
    dispatcher = as_worker("d-1", "street_office", "西渚社区", "dispatcher")
    assert search(client, "噪音", headers=dispatcher) == [manual]
    assert search(client, "噪音", headers=dispatcher, status="needs_manual") == [manual]
    assert search(client, "噪音", headers=dispatcher, status="routed") == []


@pytest.mark.parametrize("headers", [as_resident("r-1"), bearer(service_token())], ids=["resident", "service"])
def test_residents_and_services_are_refused(client: TestClient, intake: Intake, headers: dict[str, str]) -> None:
    ticket(client, intake, LEAK)
    reply = client.get("/v1/search/tickets", params={"q": "漏水"}, headers=headers)
    assert reply.status_code == 403, reply.text
    assert client.get("/v1/search/tickets", params={"q": "漏水"}, headers={"Authorization": ""}).status_code == 401


def test_after_erasure_the_old_words_no_longer_match(client: TestClient, intake: Intake) -> None:
    ticket_id = ticket(client, intake, "我是王小明，电话13812345678，楼上漏水", resident="oWx-erase-me")
    assert search(client, "13812345678") == [ticket_id]
    ErasureFlows(intake.context).erase_resident("oWx-erase-me", actor="operator:o-1")
    assert search(client, "13812345678") == []
    assert search(client, "漏水") == [ticket_id]


@pytest.mark.parametrize(
    "q",
    ['"', '""', '"漏水', "漏水*", "NEAR(漏水 墙面)", "漏水 AND 墙面", "漏水 OR x", "text:漏水", "' OR 1=1 --",
     "%%", "%", "__", "_%_", "\\", "漏%", "漏_", "*", "^漏水", "(漏水)", "漏水 NOT 墙面", "{text}:漏水",
     "'; DROP TABLE tickets; --"],
)  # fmt: skip
def test_hostile_queries_never_fail_nor_match_everything(client: TestClient, intake: Intake, q: str) -> None:
    ticket(client, intake, LEAK)
    ticket(client, intake, LIFT)
    reply = client.get("/v1/search/tickets", params={"q": q})
    assert reply.status_code in (200, 422), reply.text
    if reply.status_code == 200:
        assert reply.json()["results"] == []
    assert search(client, "漏水") != []  # the tickets are all still there


def test_literal_wildcards_and_quotes_match_only_themselves(client: TestClient, intake: Intake) -> None:
    percent = ticket(client, intake, "物业费涨了50%不合理")
    quoted = ticket(client, intake, '门口贴了"禁止停车"的牌子')
    ticket(client, intake, LEAK)
    assert search(client, "50%") == [percent]
    assert search(client, "0%") == [percent]
    assert search(client, '"禁止停车"') == [quoted]
    assert search(client, '车"') == [quoted]


@pytest.mark.parametrize(("q", "field"), [("", "q"), ("  ", "q"), ("漏", "q"), ("a" * 10_000, "q"), ("漏" * 101, "q")])
def test_empty_short_and_huge_queries_are_422(client: TestClient, intake: Intake, q: str, field: str) -> None:
    ticket(client, intake, LEAK)
    reply = client.get("/v1/search/tickets", params={"q": q})
    assert reply.status_code == 422, reply.text
    assert [f["field"] for f in reply.json()["error"]["fields"]] == [field]


def test_a_forged_page_token_is_422(client: TestClient, intake: Intake) -> None:
    ticket(client, intake, LEAK)
    for token in ("x", "bm9wZQ==", "OXx4fHk="):
        reply = client.get("/v1/search/tickets", params={"q": "漏水", "page_token": token})
        assert reply.status_code == 422, reply.text


def test_search_is_not_taken_for_a_ticket_number(client: TestClient, intake: Intake) -> None:
    ticket(client, intake, LEAK)
    assert client.get("/v1/tickets/search", headers=PM).status_code == 404
