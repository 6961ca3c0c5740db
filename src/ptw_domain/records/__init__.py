"""Records kept on a permit beside its lifecycle: attachments (§4.1), annotations (AUD-11) and linked incidents
(RPT-04). None of them signs, changes core or moves the status."""
