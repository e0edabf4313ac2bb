import sys

from audiolab.cli import main

sys.exit(main())
