"""A project folder as one declaration (``gp.yaml``) and ``gp up``, which carries it to a
served, checked endpoint."""
