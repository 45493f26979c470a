"""The main window's views; each builds its items once and updates them from snapshots."""
