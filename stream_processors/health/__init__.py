"""The health stage: each touchpoint and location against its own baseline."""
