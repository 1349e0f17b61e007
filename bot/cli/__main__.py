"""`python -m bot.cli`: the same as the `partnerline` command."""

from bot.cli import main

raise SystemExit(main())
