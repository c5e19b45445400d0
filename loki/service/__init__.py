"""LOKI as a background service: the files that run it (`units`), systemd's notify protocol (`notify`), the logs (`logs`)."""
