"""Sinks: the ClickHouse writer (its own consumer group), migrations and DDL."""
