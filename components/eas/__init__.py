"""Everything that calls the EAS API, through the official SDK client.

Used only where the network is meant: the program (live stock), the endpoint reader, and the
tools (``capacity``). Tests point the client at a fake EAS on 127.0.0.1.
"""
