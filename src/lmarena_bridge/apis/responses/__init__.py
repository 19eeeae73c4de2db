"""The OpenAI Responses API (``POST /v1/responses``): the request as a neutral chat request
(``translate.py``, ``tools.py``) and the answer as a ``response`` object or its SSE events
(``encoder.py``, ``items.py``)."""
