"""`python -m tunedeck`: the same as the `tunedeck` command."""
import sys

from tunedeck.cli.main import main

sys.exit(main())
