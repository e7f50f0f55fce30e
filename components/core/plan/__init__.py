"""The plan: one service's plan, the stack's, the service JSON, cost, and the plan's files.
"""
