"""One module per ``trackit`` subcommand; see ``trackit.cli``."""
