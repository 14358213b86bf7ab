"""The chatkit-pg command line: wires store/, bench/, tests/, loadtest/ and reports/ together."""
