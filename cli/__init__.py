"""The ``chatkit-pg`` command line: wires the store, the harness and the reports together.

Nothing imports this package; its commands only wire the rooms below it.
"""
