"""The control-plane HTTP API (``gp server``): the same services as the SDK, over HTTP."""
