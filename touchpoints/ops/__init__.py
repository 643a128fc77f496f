"""The live operations page (``touchpoints ops``): alerts with their impact, touchpoint
health, journeys, dead letters and pipeline health, on one page served by aiohttp."""
