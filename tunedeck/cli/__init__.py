"""The `tunedeck` command: one parser; no command opens the cockpit, a command word runs headless."""
