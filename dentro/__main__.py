from dentro.cli import main

raise SystemExit(main())
