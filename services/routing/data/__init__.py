"""Data files of the routing service: the responsibility catalog (权责清单) shipped as package data."""
