"""`python -m bot` runs the service, like `provisioning-bot serve`."""
import sys

from bot.cli import main

sys.exit(main(sys.argv[1:]))
