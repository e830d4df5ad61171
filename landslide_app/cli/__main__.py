"""``python -m landslide_app.cli``: the ``landslide-app`` command."""

import sys

from landslide_app.cli import main

sys.exit(main())
