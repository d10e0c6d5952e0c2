"""What a run measured and how it is kept: recording on the workers (recorder), merging and deriving rates and
percentiles (counts, aggregate, timeseries, samples), the run folder's files (files, tables, run_folder, history,
environment), and judging results (judge, thresholds, compare)."""
