"""Widgets of the tunedeck UI, one per module."""
