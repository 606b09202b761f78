"""Field names the syslog family of parsers fills that `schema.fields.F` does not spell
(yet): ECS names, and vigil's `ssh.*` extensions. Kept in one place so they can move
into `F` as a whole.
"""

from __future__ import annotations


class SF:
    """Field name constants of the syslog, sshd and netfilter parsers."""

    # ECS
    EVENT_TYPE = "event.type"
    SOURCE_DOMAIN = "source.domain"
    DESTINATION_MAC = "destination.mac"
    USER_TARGET_ID = "user.target.id"
    GROUP_NAME = "group.name"
    GROUP_ID = "group.id"
    PROCESS_COMMAND_LINE = "process.command_line"
    PROCESS_WORKING_DIRECTORY = "process.working_directory"

    # vigil extensions for OpenSSH
    # How the client tried to authenticate: password, publickey, keyboard-interactive,
    # keyboard-interactive/pam, hostbased, gssapi-with-mic, none.
    SSH_AUTH_METHOD = "ssh.auth.method"
    # True when sshd said the user does not exist ("invalid user"), false when it named
    # an existing one ("authenticating user", "Failed password for root"), else null.
    SSH_INVALID_USER = "ssh.auth.invalid_user"
    # Public key type and fingerprint of a publickey attempt (`RSA`, `SHA256:...`).
    SSH_KEY_TYPE = "ssh.auth.key.type"
    SSH_KEY_FINGERPRINT = "ssh.auth.key.fingerprint"

    # vigil extension for kernel packet logs: seconds since boot in `[ 123.456]`.
    KERNEL_UPTIME = "kernel.uptime"
