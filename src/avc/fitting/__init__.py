"""Section F's fits: NNLS and simplex weights, the alignment curve and its compiled paths, held-out
gains with intervals, and the audit of a market (Section G).
"""
