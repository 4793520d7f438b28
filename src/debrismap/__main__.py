import sys

from debrismap.cli import main

sys.exit(main())
