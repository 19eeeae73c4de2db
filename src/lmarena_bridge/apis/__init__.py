"""Client APIs beside chat completions: each a request translator and an answer encoder
(relay/answer_encoder.py), served by the one lifecycle (relay/lifecycle.py)."""
