from pmpcli.main import main

raise SystemExit(main())
