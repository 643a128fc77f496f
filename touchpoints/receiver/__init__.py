"""The alert receiver: Alertmanager's webhook, with impact, kept in ClickHouse, forwarded.

Flow of one notification (``app.py``)::

    Alertmanager POST /alerts
      -> parse (payload.py)            malformed: 400 and a log line
      -> impact per alert (store.py)   ClickHouse down: "impact unknown"
      -> message (message.py) -> forward (forward.py: webhook or SMTP)
      -> rows (message.py) -> spool on disk (spool.py) -> ClickHouse (store.py)

The spool is written before Alertmanager gets its answer and emptied into
ClickHouse at once, on start and periodically, so a row survives ClickHouse
and receiver outages.
"""
