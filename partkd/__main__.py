"""`python -m partkd` runs the command line."""

from partkd.cli import main

raise SystemExit(main())
