"""Subcommands of ``chatkit-pg``; see :mod:`chatkit_pg.cli`."""
