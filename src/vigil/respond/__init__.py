"""Automatic and manual response: responders, policy, action records, audit."""
