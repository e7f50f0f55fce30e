"""What already runs: whose an EAS service is, what a deployed stack recorded, what a status means.
"""
