"""The stack file: what it may say, how it is read, and the names it gives.

``spec`` types every ``qwen3-eas:*`` key; ``stack_file`` reads the YAML strictly;
``config_text`` reads values Pulumi wrote as text; ``stack_config`` validates the whole config
into a ``LoadedStack``, with one message per mistake; ``regions`` (where EAS runs) and ``naming``
(the EAS name of a service) are the vocabularies the file is checked against.
"""
