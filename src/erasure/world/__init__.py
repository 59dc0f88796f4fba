"""The concept world of the tiny profile: renderer, captions, training of the tiny models."""
