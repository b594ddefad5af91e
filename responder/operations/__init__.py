"""Running the service: logs, start-up checks, health figures, backups."""
