"""Allow ``python -m dualsr_cli``."""

from dualsr_cli.cli import main

main()
