"""The `disco-workbench` program of the app bundle (packaging/disco-workbench.spec)."""

import sys

from app.__main__ import main

sys.exit(main())
