"""A ChatKit server written the way the SDK's docs show one, for the load-test client's tests."""
