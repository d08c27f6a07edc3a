from cw_desktop.app import main

raise SystemExit(main())
