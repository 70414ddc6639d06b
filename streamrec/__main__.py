"""``python -m streamrec`` = the ``streamrec`` command."""

import sys

from streamrec.shell.cli import main

sys.exit(main())
