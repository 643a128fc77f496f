"""The identity stage: which customer each event belongs to, and the merges it causes."""
