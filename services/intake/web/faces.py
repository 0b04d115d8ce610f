"""What the pages' endpoints use: the answerer, hot topics, meetings and Open311 over one catalog and one channel."""

from __future__ import annotations

from dataclasses import dataclass

from linli.catalog import Catalog
from services.intake.answers.flows import Answerer
from services.intake.meetings.flows import MeetingFlows
from services.intake.open311.flows import Open311
from services.intake.settings import IntakeSettings
from services.intake.topics.flows import TopicFlows


@dataclass(frozen=True)
class FaceServices:
    """What the pages' endpoints use, built once from settings."""

    settings: IntakeSettings
    resident_login: str  # the verifier's name: how the H5 page gets a login code (wx.login, or `dev:<openid>`)
    catalog: Catalog
    answerer: Answerer
    topics: TopicFlows
    meetings: MeetingFlows
    open311: Open311
