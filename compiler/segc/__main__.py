"""`python -m segc`: the same as the `segc` command."""

from .cli import main

main()
