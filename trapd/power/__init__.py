"""`trapd power`: how long a trap runs on its battery, estimated before anyone hikes out.

``boards.py`` holds the published figures, each with its source; ``estimate.py`` adds them up.
"""
