"""Plot data helpers with no UI library in them, so they can be tested and benchmarked alone."""
