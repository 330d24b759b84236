"""The presets shipped with tunedeck, installed as the package `engine.shipped_presets`."""
