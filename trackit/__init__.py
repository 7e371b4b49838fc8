"""The ``trackit`` command line: wires the pipeline's stages into subcommands."""
