"""Open311 GeoReport v2 (JSON) over tickets, for city platforms and third-party apps."""
