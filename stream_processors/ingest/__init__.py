"""The ingest stage: raw batch records validated, scored and routed, one pass per event."""
