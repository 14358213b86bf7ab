"""``python -m chatkit_pg.cli``: the same as the ``chatkit-pg`` script."""

from chatkit_pg.cli.main import main

raise SystemExit(main())
