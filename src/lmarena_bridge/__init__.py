"""LMArena Bridge: an OpenAI-compatible API for the LMArena site, relayed through a browser tab."""

__version__ = "1.0.0"
