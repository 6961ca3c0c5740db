"""Read models and event consumers (issue 4). Imports ptw_domain only."""
