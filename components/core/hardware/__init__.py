"""The hardware: what one replica of a service runs on, and where there is stock for it.
"""
