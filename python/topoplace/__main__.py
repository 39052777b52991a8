"""``python -m topoplace`` runs the command line."""

import sys

from topoplace.cli import main

sys.exit(main())
