"""``python -m tinygrad_relu``: the same as the ``tinygrad-relu`` command."""
import sys

from .cli import main

sys.exit(main())
