"""The ``gp`` command: thin Typer shells over the capability services."""
