"""The responsibility catalog (权责清单), shared by the services that route and those that show it."""

from linli.catalog.model import (
    DEFAULT_CATALOG_PATH,
    ESCALATION_ORDER,
    MIN_PHRASINGS,
    URGENCIES,
    Catalog,
    CatalogEntry,
    CatalogError,
    EscalationLevel,
    PartyInfo,
    Source,
    Urgency,
    load_catalog,
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
