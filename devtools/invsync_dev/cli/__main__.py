"""`python -m invsync_dev.cli`: the `invsync` command."""

import sys

from invsync_dev.cli import main

sys.exit(main())
