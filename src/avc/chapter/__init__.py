"""What a chapter needs around its mathematics: parameter checks, claims about a recorded panel, the
page's text width and number formats, and the plotting style.
"""
