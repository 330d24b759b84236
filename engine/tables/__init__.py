"""The store as tables: Polars frames of trials and their history, export to files, and the text
formatting of numbers and durations that the CLI and the cockpit share.
"""
