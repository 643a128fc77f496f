"""Everything that knows Faust or aiokafka internals, and nothing else.

The stages (``stream_processors.ingest.validation`` and the rest) are pure; ``app.py``
wires them to topics. What has to reach under Faust's public API lives here:
the output sender (:mod:`.out`), the transport fix for records Faust skips
after a seek (:mod:`.transport`), the app's settings (:mod:`.faust_settings`,
shared with the bench's no-op Faust app).
"""
