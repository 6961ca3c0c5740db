"""The HTTP API: a Litestar application over the PermitService and the read models (`ptw serve`)."""
