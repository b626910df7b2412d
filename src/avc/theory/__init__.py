"""The paper's mathematics on finite instances: the model of Section B, Definition 1's LP, persuasion
with one or many senders, quantal response, the games and protocol of Sections C–E, bounds, random
utilities (Appendix H) and worked examples.
"""
