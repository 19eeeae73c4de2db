"""The Anthropic Messages API: request models (wire.py), the translation to the neutral
chat request (translate.py), the answer's encoding (encoder.py) and error shape (errors.py).
The routes are http/anthropic_routes.py."""
