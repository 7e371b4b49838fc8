"""``python -m trackit`` runs the command line."""

import sys

from trackit.cli import main

sys.exit(main())
