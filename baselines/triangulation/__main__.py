from baselines.triangulation.run import main

raise SystemExit(main())
