"""The web collector: an HTTP endpoint that turns browser and server events into Kafka records."""
