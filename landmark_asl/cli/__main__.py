"""``python -m landmark_asl.cli``: the same as the ``landmark-asl`` command."""

from landmark_asl.cli.commands import main

main()
