"""`python -m loki` is the `loki` command."""

from loki.cli import main

raise SystemExit(main())
