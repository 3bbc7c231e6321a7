"""`python -m cityops_tools.backup`."""

import sys

from cityops_tools.backup.commands import main

sys.exit(main())
