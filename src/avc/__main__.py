"""``python -m avc``: see :mod:`avc.cli`."""

from avc.cli import main

raise SystemExit(main())
