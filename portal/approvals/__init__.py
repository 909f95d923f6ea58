"""Approval chains: the steps a request walks once it is submitted."""
