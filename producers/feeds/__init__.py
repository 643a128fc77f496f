"""File feed adapters: call-center CDRs and shop records from files or a watched folder."""
