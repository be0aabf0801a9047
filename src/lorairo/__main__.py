"""`python -m lorairo` runs the CLI."""

from lorairo.cli.main import main

main()
