"""The ptw CLI, and later the HTTP API and the worker entry. Imports both other packages."""
