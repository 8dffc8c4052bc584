import sys

from vfbench.cli import main

sys.exit(main())
