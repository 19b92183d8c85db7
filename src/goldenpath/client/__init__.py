"""The SDK over HTTP: ``goldenpath.connect("http://127.0.0.1:8700", token=...)``."""
