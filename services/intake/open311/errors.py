"""GeoReport errors: an HTTP status and the spec's `[{code, description}]` items (`<errors><error>` in XML)."""

from __future__ import annotations

from fastapi.responses import Response

from linli.errors import InvalidArgument, LinliError
from services.intake.open311.formats import Format, answer


class Open311Error(Exception):
    """A GeoReport error: HTTP status and the `[{code, description}]` items."""

    def __init__(self, status: int, descriptions: list[str]) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions

    @classmethod
    def from_domain(cls, error: LinliError) -> Open311Error:
        """A domain error in GeoReport form: 400 for bad fields (one item each), else its own HTTP status."""
        if isinstance(error, InvalidArgument):
            return cls(400, [f"{v.field}: {v.description}" for v in error.violations] or [error.message])
        return cls(error.http_status, [error.message])

    def response(self, form: Format = Format.JSON) -> Response:
        """The spec's error body, in the format the path asked for."""
        items = [{"code": self.status, "description": d} for d in self.descriptions]
        return answer(items, "errors", form, self.status)
