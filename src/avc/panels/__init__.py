"""The data of Section F: persona prompts, the public datasets (ETHICS, MovieLens), the recorded
panels and the Yes/No elicitation, with one home for their paths (:mod:`avc.panels.files`).
"""
