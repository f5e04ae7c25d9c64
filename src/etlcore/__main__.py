from etlcore.cli import main

raise SystemExit(main())
