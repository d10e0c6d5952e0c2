"""Running a scenario: the run's lifecycle and its signals, hyperd (private or an endpoint), the workers (one
process each, or one Ray actor each, behind one backend interface) and the messages they exchange with the
coordinator, sampling, and fault injection for the reliability tests."""
