"""The Textual app (tunedeck [PRESET]); it drives the engine and never duplicates it."""
