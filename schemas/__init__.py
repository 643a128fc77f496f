"""The event contract: models every component agrees on, topic names and shared settings.

This package is the bottom layer: it imports nothing else of the project.
"""
