"""The ``touchpoints`` command and the wiring that builds components from settings.

Top layer: it imports the others; nothing imports it.
"""
