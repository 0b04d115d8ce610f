"""The router: one calibrated decision from the text, the responsibility catalog and similar resolved cases.

For each complaint it embeds the text once (retrieval's Embed; not at all when the caller sent its vector of the
text from the same model, as intake's worker does after embedding it for duplicates), finds the closest resolved
precedents with that vector, scores the catalog, and lets the trained stacker combine text features, catalog and
precedent vote into probabilities per label. Below the model's threshold it abstains: the ticket goes to a person
with the evidence. Urgency, SLA, escalation level and a suggested resolution are added from the catalog entry and
the precedents, and the further problems the same message raises for other catalog entries (一单多事, other_issues.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from linli.catalog import Catalog, CatalogEntry
from linli.clients.retrieval import EmbeddedTexts, RetrievalClient
from linli.embedding.text_encoder import TextEncoder
from linli.errors import InvalidArgument
from linli.parties import display_name
from linli.pii import scrub
from linli.v1 import cases_pb2
from services.routing.decision import CatalogMatch, OtherIssue, PartyScore, Rationale, RoutingDecision, SignalOpinion
from services.routing.entry_choice import EntryChoice, choose_entry
from services.routing.learning.classifier import SignalAttribution
from services.routing.learning.features import FeatureConfig
from services.routing.metrics import GIVEN_EMBEDDINGS
from services.routing.model_holder import ModelHolder, ServedModel
from services.routing.other_issues import OtherIssueFinding, find_other_issues
from services.routing.passages import reading_texts
from services.routing.settings import RoutingSettings
from services.routing.signals import CATALOG, VOTE, VoteParameters, match_scores, vote_scores
from services.routing.suggestion import compose_suggestion
from services.routing.urgency import UrgencyFinding, detect_urgency

MAX_TEXT_CHARS = 2000

_SIGNAL_WORDS = {"classifier": "文本分类模型", CATALOG: "权责清单", VOTE: "相似已办结案例"}


@dataclass(frozen=True)
class TextVector:
    """A vector of a complaint's text and the model that made it: the caller's, given, or routing's, returned."""

    vector: npt.NDArray[np.float32]
    model: str


@dataclass(frozen=True)
class Complaint:
    """What the router is asked about; `embedding`, when given, is the vector of `text` exactly as given."""

    text: str
    community: str = ""
    building: str = ""
    embedding: TextVector | None = None


@dataclass(frozen=True)
class _Asked:
    """A checked complaint and the text the model reads of it."""

    complaint: Complaint
    text: str


def _wanted(text: str, features: FeatureConfig) -> list[str]:
    """What the classifier embeds of a text: its head, and its tail when the features read one and it is long."""
    wanted = [text[: features.head_chars]]
    if features.embed and features.tail_chars > 0 and len(text) > features.head_chars:
        wanted.append(text[-features.tail_chars :])  # the features' tail vector, in the same Embed call
    return wanted


def _searched_by_text(wanted: list[str], encoder: TextEncoder) -> bool:
    """Whether the precedents are searched with the head's text (retrieval embeds it and sends its vector back):
    only the head is wanted, and no vector of it is known yet (else searched with that vector)."""
    return len(wanted) == 1 and encoder.recall(wanted[0]) is None


def _remember(encoder: TextEncoder, text: str, embedded: EmbeddedTexts | None) -> None:
    # The head's vector, embedded once: the classifier's features reuse it, and training voted so.
    if embedded is not None and embedded.model == encoder.model_name:
        encoder.remember(text, embedded.vectors[0])


class Router:
    """Routes complaints with the model in service, the catalog and retrieval's precedents."""

    def __init__(
        self,
        *,
        retrieval: RetrievalClient,
        encoder: TextEncoder,
        models: ModelHolder,
        catalog: Catalog | None,
        settings: RoutingSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._retrieval = retrieval
        self._encoder = encoder
        self._models = models
        self._catalog = catalog
        self._settings = settings
        self._vote = VoteParameters(settings.neighbours, settings.min_similarity, settings.vote_temperature)
        self._clock = clock

    @property
    def models(self) -> ModelHolder:
        """The holder of the model in service."""
        return self._models

    def route(self, complaint: Complaint, *, field: str = "complaint") -> RoutingDecision:
        """Decides one complaint; raises InvalidArgument for bad text, Unavailable when retrieval is down."""
        return self.route_with_vector(complaint, field=field)[0]

    def route_with_vector(
        self, complaint: Complaint, *, field: str = "complaint"
    ) -> tuple[RoutingDecision, TextVector | None]:
        """`route`, and the vector of `complaint.text` exactly as given when routing had one (None for a long text).

        The caller may reuse it (intake's duplicate check) instead of embedding the same text again.
        """
        return self._route_all([complaint], [field])[0]

    def route_many(
        self, complaints: Sequence[Complaint], *, field: str = "complaints"
    ) -> list[tuple[RoutingDecision, TextVector | None]]:
        """`route_with_vector` of each complaint (errors name `complaints[i]`), by one model: the precedents of every
        text searched by text found in one retrieval call, and every text scored by the model in one pass."""
        return self._route_all(complaints, [f"{field}[{i}]" for i in range(len(complaints))])

    def _route_all(
        self, complaints: Sequence[Complaint], fields: Sequence[str]
    ) -> list[tuple[RoutingDecision, TextVector | None]]:
        served = self._models.current
        features = served.classifier.classifier.features
        # One memo of vectors for the batch: keyed by the text, a vector is the same whichever complaint asked.
        encoder = self._encoder.fresh()
        asked = [self._asked(complaint, field, encoder) for complaint, field in zip(complaints, fields, strict=True)]
        together = [i for i, a in enumerate(asked) if _searched_by_text(_wanted(a.text, features), encoder)]
        found: dict[int, list[cases_pb2.ScoredCase]] = {}
        if len(together) > 1:
            heads = [asked[i].text[: features.head_chars] for i in together]
            near = self._retrieval.resolved_near_texts(k=self._settings.neighbours, texts=heads)
            for i, head, (embedded, cases) in zip(together, heads, near, strict=True):
                _remember(encoder, head, embedded)
                found[i] = cases
        precedents = [
            found[i] if i in found else self._precedents(a.text, features, encoder) for i, a in enumerate(asked)
        ]
        return self._conclude(asked, served, precedents, encoder)

    def _asked(self, complaint: Complaint, field: str, encoder: TextEncoder) -> _Asked:
        """The complaint checked, its given vector remembered, with the text the model reads."""
        text = complaint.text.strip()
        if not text:
            raise InvalidArgument.for_field(f"{field}.text", "must not be empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidArgument.for_field(f"{field}.text", f"must be at most {MAX_TEXT_CHARS} characters")
        self._reuse_given_vector(complaint, encoder)
        # The model reads a long letter's title and request passages, as it was trained to (passages.py); a text
        # that short stays as sent, so a caller's vector of it is still the one reused.
        return _Asked(complaint, reading_texts([text])[0])

    def _conclude(
        self,
        asked: Sequence[_Asked],
        served: ServedModel,
        precedents: Sequence[list[cases_pb2.ScoredCase]],
        encoder: TextEncoder,
    ) -> list[tuple[RoutingDecision, TextVector | None]]:
        texts = [a.text for a in asked]
        labels = served.classifier.labels
        signals = {}
        uses = served.classifier.classifier.signals
        if VOTE in uses:
            neighbours = [[(p.score, p.case.party) for p in found] for found in precedents]
            signals[VOTE] = vote_scores(neighbours, labels, self._vote)
        catalog = self._catalog if CATALOG in uses else None
        # One ranking of every entry serves both the catalog signal (its top matches) and the entry choice.
        matches = [catalog.match(text, limit=len(catalog.entries)) if catalog is not None else [] for text in texts]
        if catalog is not None:
            signals[CATALOG] = np.vstack([match_scores(ranked, labels) for ranked in matches])
        probabilities, attribution = served.classifier.classifier.explain(texts, encoder, signals)
        probabilities = served.classifier.shifted(probabilities)
        concluded = []
        for i, a in enumerate(asked):
            best = labels[int(np.argmax(probabilities[i]))]
            model_scores = served.classifier.classifier.entry_scores(a.text, encoder)
            entry = choose_entry(a.text, best, catalog, model_scores, matches=matches[i])
            # Even an abstaining decision has the entry it would rest on: the others are problems beside that one.
            main = entry.entry if entry is not None else None
            others = find_other_issues(a.text, catalog, main) if catalog is not None else []
            decision = self._decision(a.text, served, probabilities[i], attribution[i], precedents[i], entry, others)
            vector = encoder.recall(a.complaint.text)
            concluded.append((decision, None if vector is None else TextVector(vector, encoder.model_name)))
        return concluded

    def _reuse_given_vector(self, complaint: Complaint, encoder: TextEncoder) -> None:
        """Seeds this request's memo with the caller's vector when it is of our model: no second Embed of the text.

        Keyed by the text exactly as given, so it is used only where the router embeds that very string (a text no
        longer than the head); a long text's head and tail are still embedded here.
        """
        given = complaint.embedding
        if given is None:
            GIVEN_EMBEDDINGS.labels("absent").inc()
            return
        if given.model != encoder.model_name:  # another model's space: its vector cannot query our index
            GIVEN_EMBEDDINGS.labels("other_model").inc()
            return
        if given.vector.shape != (encoder.dimension,):
            raise InvalidArgument.for_field(
                "embedding.values",
                f"{given.model} vectors have {encoder.dimension} components, got {given.vector.size}",
            )
        if not np.isfinite(given.vector).all():
            raise InvalidArgument.for_field("embedding.values", "must be finite numbers")
        encoder.remember(complaint.text, given.vector)
        GIVEN_EMBEDDINGS.labels("reused").inc()

    def _precedents(self, text: str, features: FeatureConfig, encoder: TextEncoder) -> list[cases_pb2.ScoredCase]:
        wanted = _wanted(text, features)
        if _searched_by_text(wanted, encoder):
            # One call finds the neighbours and brings the text's vector back for the classifier (no Embed first).
            embedded, precedents = self._retrieval.resolved_near_text(k=self._settings.neighbours, text=wanted[0])
            _remember(encoder, wanted[0], embedded)
            return precedents
        vector = encoder(wanted)[0]
        return self._retrieval.similar_resolved(k=self._settings.neighbours, vector=vector)

    def _decision(
        self,
        text: str,
        served: ServedModel,
        probabilities: np.ndarray,
        attribution: SignalAttribution,
        precedents: Sequence[cases_pb2.ScoredCase],
        choice: EntryChoice | None,
        others: Sequence[OtherIssueFinding],
    ) -> RoutingDecision:
        labels = served.classifier.labels
        override = self._settings.min_confidence
        threshold = served.classifier.threshold if override is None else override
        order = np.argsort(-probabilities)
        best = labels[int(order[0])]
        confidence = float(probabilities[order[0]])
        abstained = confidence < threshold
        entry = choice.entry if choice is not None else None
        finding = detect_urgency(text)
        suggestion = compose_suggestion(
            party=best, entry=entry, precedents=list(precedents), urgency=finding, now=self._clock()
        )
        return RoutingDecision(
            party="" if abstained else best,
            confidence=confidence,
            abstained=abstained,
            alternatives=tuple(PartyScore(labels[int(i)], float(probabilities[i])) for i in order),
            rationale=Rationale(
                deciding_signal=None if abstained else attribution.deciding,
                summary=_summary(best, confidence, threshold, abstained, attribution, entry, precedents),
                opinions=tuple(
                    SignalOpinion(name, party, probability)
                    for name, (party, probability) in attribution.opinions.items()
                ),
                catalog_entry=None if choice is None else _catalog_match(choice.entry, choice.score),
            ),
            # Retrieval scrubs what it returns; scrubbed again so a precedent's name never reaches a ticket.
            suggested_resolution=scrub(suggestion.text),
            similar_cases=tuple(precedents),
            category=entry.id if entry is not None else _closest_category(best, precedents),
            router_version=served.version,
            urgency=_urgency_level(finding, entry),
            urgency_notice=finding.notice if finding is not None else "",
            sla_hours=suggestion.sla_hours,
            escalation_level=suggestion.escalation_level,
            co_parties=tuple(entry.co_parties) if entry is not None else (),
            other_issues=tuple(OtherIssue(_catalog_match(other.entry, other.score), other.excerpt) for other in others),
        )


def _catalog_match(entry: CatalogEntry, score: float) -> CatalogMatch:
    return CatalogMatch(entry_id=entry.id, name=entry.name, score=score, party=entry.party, basis=entry.basis)


def _urgency_level(finding: UrgencyFinding | None, entry: CatalogEntry | None) -> str:
    """The detector's word on present danger wins; a topic that can be an emergency is at least urgent.

    "燃气公司来查过了,没有泄漏" matches the gas entry, but the detector sees no present danger: urgent, not an alarm.
    """
    if finding is not None:
        return finding.level
    if entry is not None and entry.urgency in ("emergency", "urgent"):
        return "urgent"
    return "normal"


def _closest_category(party: str, precedents: Sequence[cases_pb2.ScoredCase]) -> str:
    return next((p.case.category for p in precedents if p.case.party == party), "")


def _summary(
    party: str,
    confidence: float,
    threshold: float,
    abstained: bool,
    attribution: SignalAttribution,
    entry: CatalogEntry | None,
    precedents: Sequence[cases_pb2.ScoredCase],
) -> str:
    """Two or three Chinese sentences a grid worker can check at a glance."""
    parts = []
    if entry is not None:
        parts.append(f"权责清单「{entry.name}」由{display_name(entry.party)}负责")
    if precedents:
        top = precedents[0]
        same = sum(1 for p in precedents if p.case.party == party)
        parts.append(
            f"{len(precedents)} 件相似已办结案例中 {same} 件由{display_name(party)}办结,"
            f"最相似的「{scrub(top.case.complaint)[:30]}」相似度 {top.score:.2f}"
        )
    evidence = ";".join(parts) + "。" if parts else ""
    if abstained:
        return f"{evidence}最可能是{display_name(party)},但把握 {confidence:.0%} 低于 {threshold:.0%},请人工分派。"
    deciding = _SIGNAL_WORDS[attribution.deciding]
    return f"{evidence}判定由{display_name(party)}处理,把握 {confidence:.0%},起决定作用的是{deciding}。"
