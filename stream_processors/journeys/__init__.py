"""The journeys stage: each canonical key's journeys, placed, merged and closed by event time."""
