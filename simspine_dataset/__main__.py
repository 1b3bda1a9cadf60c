"""``python -m simspine_dataset`` is the ``simspine`` command."""

from simspine_dataset.cli import main

raise SystemExit(main())
