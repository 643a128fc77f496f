"""``touchpoints bench``: the pipeline's throughput and latency beside its ceilings, in one run.

Flow of a run (``runner.run_bench``), each phase on names of its own::

    workload   simulator events generated once   -> [(key, value bytes)]
    ceilings   bare produce / consume, bare copy to ClickHouse, no-op Faust agent
    stages     catch-up on a pre-filled raw topic: watch each stage's output grow
    replay     a fresh writer group on a pre-filled events topic: rows/s
    steady     paced at ~70% of catch-up: event -> output, event -> queryable
    report     one table, one JSON file (``report``; pure)

Pure parts (``stats``, ``profiles``, ``report``, ``stages``) import no Kafka,
Faust or ClickHouse client and are unit-tested.
"""
