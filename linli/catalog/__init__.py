"""The responsibility catalog (权责清单), shared by the services that route complaints and those that show it."""

from linli.catalog.loader import DEFAULT_CATALOG_PATH, load_catalog
from linli.catalog.model import Catalog
from linli.catalog.records import (
    ESCALATION_ORDER,
    MIN_PHRASINGS,
    URGENCIES,
    CatalogEntry,
    CatalogError,
    EscalationLevel,
    PartyInfo,
    Source,
    Urgency,
)

__all__ = [
    "DEFAULT_CATALOG_PATH",
    "ESCALATION_ORDER",
    "MIN_PHRASINGS",
    "URGENCIES",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "EscalationLevel",
    "PartyInfo",
    "Source",
    "Urgency",
    "load_catalog",
]
