"""Hostile inputs: the committed corpus (``files/``) and generators for the large ones (``make.py``)."""
