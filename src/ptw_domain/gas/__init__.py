"""Gas testing (section 6): limit profiles, ordered sessions, server verdicts, freshness and retests."""
