"""Engine conformance: our start commands read by the real engines (see docs/engines-conformance.md)."""
