"""Interaction scores: the rules (``rules``), one event priced (``interaction``), its record.

Not an agent of its own: ingest scores each event as it validates it
(``stream_processors.ingest.stage``), so no later stage scores again."""
