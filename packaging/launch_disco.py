"""The `disco` program of the app bundle (packaging/disco-workbench.spec)."""

import sys

from disco_core.cli import main

sys.exit(main())
