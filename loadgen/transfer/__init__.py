"""Moving rows into Hyper (and results out of it): staged Arrow files, Arrow over the PostgreSQL protocol, the row
API, and files hyperd reads itself. Used by every workload that loads data."""
