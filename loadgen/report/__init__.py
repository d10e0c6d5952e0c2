"""What a person reads: the terminal's progress line and final tables, `loadgen report`'s interactive HTML and its
PNG charts (from one model of a run folder's files), and `loadgen compare` as text."""
