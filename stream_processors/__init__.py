"""Stream processing: the Faust app (thin agents) and the pure logic they call."""
