"""Base rules the correlation tests correlate: a failed and an accepted SSH login."""

FAILED = """
title: Failed SSH login
name: ssh_failed
id: 5d6f6c2b-0a3e-4c1e-9d5a-1a2b3c4d5e6f
logsource: {product: linux, service: sshd}
detection:
  sel: {event.outcome: failure}
  condition: sel
"""
ACCEPTED = """
title: Accepted SSH login
name: ssh_accepted
logsource: {product: linux, service: sshd}
detection:
  sel: {event.outcome: success}
  condition: sel
"""
BOTH = f"{FAILED}---\n{ACCEPTED}"
