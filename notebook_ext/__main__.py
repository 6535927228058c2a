"""``python -m notebook_ext lab``: see ``notebook_ext.lab``."""

import sys

from .lab import main

sys.exit(main())
