"""Browser tests: the H5 page and the worker console in Debian's chromium, over the real stack."""
