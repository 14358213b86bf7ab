from chatkit_pg.cli import main

raise SystemExit(main())
