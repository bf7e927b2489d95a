"""``python -m tests.fuzz`` (``make fuzz``): see tests/fuzz/harness.py."""

import sys

from tests.fuzz.harness import main

sys.exit(main())
