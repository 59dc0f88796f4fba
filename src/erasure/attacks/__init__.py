"""Attacks on erased models: prompts that try to bring an erased concept back."""
