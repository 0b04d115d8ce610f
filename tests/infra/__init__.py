"""Checks of infra/ that need no Docker and no cluster: linters, schemas and the rules ops rely on."""
