"""Plot data helpers with no UI library in them, so they can be tested and benchmarked alone;
`canvas` is the one exception: the Textual mixin the plot widgets share."""
