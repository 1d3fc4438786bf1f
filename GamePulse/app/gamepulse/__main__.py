"""``python -m gamepulse``: run the server until SIGTERM or SIGINT."""

import sys

from gamepulse.server import main

sys.exit(main())
