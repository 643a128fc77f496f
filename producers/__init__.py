"""Producers: the kafka-python wrapper, source adapters and the traffic simulator."""
