"""The `lorairo` command line: a thin Typer + Rich shell over the services."""
