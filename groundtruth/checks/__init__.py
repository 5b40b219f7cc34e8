"""Checks over a sandbox's final state: declarative, trusted-command, and custom Python."""
