"""What a reply says was done and by whom: boilerplate replies, and the evidence of each party's action.

A reply of the message board is written by a government office, so some office is named in nearly every one; what
tells the parties apart is who the reply says DID something (物业公司已更换..., 业主大会表决通过..., 城管已拆除...) or
was made to (责成物业..., 指导业委会换届...). So each clause is scored: a party named with a verb of a done action
weighs most, one named with a future or ordered action less, a bare mention little; and when a clause orders a party
to act (责成/督促/要求/指导 ...), the ordered party takes the clause, not the office that gave the order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from linli.parties import OWNERS_COMMITTEE, PROPERTY_MANAGER, STREET_OFFICE

PARTIES: tuple[str, ...] = (PROPERTY_MANAGER, OWNERS_COMMITTEE, STREET_OFFICE)

# Who acted, by party. Owners' matters come first: 业委会 and 物业 often share a clause (续聘物业, 业委会与物业).
ACTOR_PATTERNS: Mapping[str, re.Pattern[str]] = {
    OWNERS_COMMITTEE: re.compile(
        r"业主大会|业主委员会|业委会|业主代表大会|维修资金|维修基金|业主(?:共同)?(?:表决|投票)|表决通过|"
        r"(?:选聘|续聘|解聘|更换|选定)(?:了)?(?:新的)?物业|换届(?:选举)?|筹备组|业主公约|管理规约"
    ),
    PROPERTY_MANAGER: re.compile(r"物业(?:服务|管理)?(?:公司|企业|处|中心|项目部|人员|经理)?|物管(?:公司|处)?"),
    STREET_OFFICE: re.compile(
        r"街道|办事处|居委会|社区|村委会?|城管|执法(?:中队|大队|局|队员|人员)|住建|住房和城乡建设|房产局|房管局|"
        r"规划|自然资源|国土|市场监管|工商|派出所|公安|交警|环保|生态环境|卫健|教育(?:局|体育局)|人社|人力资源|"
        r"交通运输局|水务|城建|执法|我局|我委|我办|我区|我县|我市|我镇|我们|(?:区|县|市|镇)(?:人民)?政府|管委会|"
        r"有关部门|相关部门|职能部门|(?:区|县|市)[^，。,]{0,6}(?:局|委|办|中心|大队)"
    ),
}
# A law or fee standard named in passing is no actor (物业管理条例, 物业费标准).
NOT_AN_ACTOR = re.compile(r"物业管理条例|物业服务收费|物业费(?:标准|定价)|物业管理区域|前期物业")
DONE = re.compile(
    r"已(?:经)?|完成|完毕|修复|修好|更换了?|换了|拆除|清理|清运|疏通|安装了?|维修了?|整改到位|处罚|罚款|"
    r"查处|立案|关停|取缔|表决通过|通过了|选举产生|签订|退还|恢复|解决"
)
FUTURE = re.compile(r"将|正在|拟|计划|准备|尽快|下一步|限期|负责")
ORDER = re.compile(r"责成|督促|要求|责令|指导|协调|组织|通知|约谈")
JOINER = re.compile(r"\s*(?:和|与|及|以及|、|会同|联合|同)\s*")
CLAUSE_SPLIT = re.compile(r"[。；;！!？?\n]+")
DONE_WEIGHT, FUTURE_WEIGHT, MENTION_WEIGHT = 3.0, 1.5, 0.5

# What a reply says when it says nothing about the matter: greetings, receipt, forwarding, thanks, dates, signatures.
BOILERPLATE = re.compile(
    r"(?:尊敬的)?(?:网友|网民朋友|市民同志|来信人|市民|朋友)?[“\"]?[A-Za-z]*\d*[”\"]?[:：，,]?\s*(?:您|你)好[！!，,。]?|"
    r"(?:您|你)?(?:的|所)?(?:反映|来信|留言|帖文|咨询|建议|诉求|信件|问题)[^。，,！!]{0,20}?(?:已|我局已|我办已)?(?:收悉|收到|获悉)|"
    r"来信收悉|已收悉|现(?:将有关情况|将处理情况|就有关问题)?(?:回复|答复)如下[:：]?|"
    r"[^。；！!]{0,20}?(?:转|转交|转至|转给|转到)[^。；！]{0,30}?(?:调查|处理|核处|处置|办理|研究|核实|回复)[^。；！]{0,12}|"
    r"敬请(?:关注|留意)[^。！]{0,20}|请您?耐心等待|谢谢[！!。]?|"
    r"感谢(?:您|你)?[^。！!]{0,30}?(?:关心|关注|支持|监督|理解|留言|来信)[^。！!]{0,12}|"
    r"(?:待|等)[^。！!]{0,20}?(?:后|再)[^。！!]{0,12}?(?:回复|答复|反馈)|"
    r"\d{4}\s*[年.\-/]\s*\d{1,2}\s*[月.\-/]\s*\d{1,2}\s*日?|专此回复|特此回复|此复"
)
MIN_SUBSTANCE_CHARS = 20
HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class RuleEvidence:
    """The weight of evidence for each party and how many clauses said something was done."""

    scores: Mapping[str, float]
    done_clauses: int

    @property
    def top(self) -> str:
        """The party with the most evidence (the first in PARTIES on a tie)."""
        return max(PARTIES, key=lambda party: self.scores[party])

    @property
    def margin(self) -> float:
        """How far the top party's evidence is ahead of the next one's."""
        ranked = sorted(self.scores.values(), reverse=True)
        return ranked[0] - ranked[1]


def substance(reply: str) -> str:
    """The reply without greetings, receipt, forwarding, thanks and dates: what it says about the matter."""
    return BOILERPLATE.sub("", reply)


def is_boilerplate(reply: str) -> bool:
    """A reply that only acknowledges or forwards the message (已收悉, 已转相关部门), or says too little to tell who
    acted: a short one is kept only when it says some party did something."""
    if len(HAN.findall(substance(reply))) >= MIN_SUBSTANCE_CHARS:
        return False
    return evidence(reply).done_clauses == 0


def _actors(clause: str) -> list[tuple[int, str]]:
    """(position, party) of every actor named in the clause, laws and fee standards left out."""
    cleaned = NOT_AN_ACTOR.sub(lambda match: "□" * len(match.group()), clause)
    found: list[tuple[int, str]] = []
    taken = [False] * len(cleaned)
    for party, pattern in ACTOR_PATTERNS.items():  # earlier parties win overlapping spans (续聘物业 is the owners')
        for match in pattern.finditer(cleaned):
            if not any(taken[match.start() : match.end()]):
                found.append((match.start(), party))
                taken[match.start() : match.end()] = [True] * (match.end() - match.start())
    return sorted(found)


def _segment_weight(segment: str) -> float:
    """The weight of what follows an actor up to the next one: a done action, a future one, or a mere mention."""
    if DONE.search(segment):
        return DONE_WEIGHT
    return FUTURE_WEIGHT if FUTURE.search(segment) else MENTION_WEIGHT


def _clause_weights(clause: str) -> dict[str, float]:
    actors = _actors(clause)
    if not actors:
        return {}
    order = ORDER.search(clause)
    ordered = [party for position, party in actors if order is not None and position > order.start()]
    if ordered:
        # The parties a clause orders to act are the ones that act; the office giving the order only relays.
        return dict.fromkeys(ordered, DONE_WEIGHT)
    weights: dict[str, float] = {}
    ends = [position for position, _ in actors[1:]] + [len(clause)]
    following = MENTION_WEIGHT
    for (position, party), end in reversed(list(zip(actors, ends, strict=True))):
        segment = clause[position:end]
        # 物业公司和社区已...: an actor joined to the next one by 和/与/、 shares what that one did.
        joined = JOINER.fullmatch(segment[_actor_length(segment) :]) is not None
        weight = following if joined else _segment_weight(segment)
        weights[party] = max(weights.get(party, 0.0), weight)
        following = weight
    return weights


def _actor_length(segment: str) -> int:
    lengths = [len(match.group()) for pattern in ACTOR_PATTERNS.values() if (match := pattern.match(segment))]
    return max(lengths, default=0)


def clauses(reply: str) -> Sequence[str]:
    """The reply's clauses (split at sentence ends), boilerplate removed."""
    return [clause for clause in CLAUSE_SPLIT.split(substance(reply)) if clause.strip()]


def evidence(reply: str) -> RuleEvidence:
    """Sums each party's clause weights over the reply's clauses."""
    scores = dict.fromkeys(PARTIES, 0.0)
    done = 0
    for clause in clauses(reply):
        weights = _clause_weights(clause)
        if any(weight >= DONE_WEIGHT for weight in weights.values()):
            done += 1
        for party, weight in weights.items():
            scores[party] += weight
    return RuleEvidence(scores, done)
