"""`python -m services.cli`: the `linli` command without the installed console script."""

from services.cli.main import main

raise SystemExit(main())
