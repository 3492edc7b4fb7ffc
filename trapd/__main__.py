from trapd.cli import main

raise SystemExit(main())
