"""``python -m motadata_ai.cli``."""

from motadata_ai.cli import main

raise SystemExit(main())
