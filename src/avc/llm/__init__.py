"""Scoring with language models: reply parsing, the client, runs and their cache, plans and guards
of a live run, and the local llama.cpp server. The only subpackage that imports ``openai``.
"""
