"""The stack file: what it may say, how it is read, and the names it gives.

- ``spec``: every ``qwen3-eas:*`` key as a typed, validated pydantic model (``ServiceSpec``,
  ``StackConfig``), with the cross-field rules;
- ``stack_file``: a ``Pulumi.<stack>.yaml`` read strictly (a key written twice is an error);
- ``config_text``: values Pulumi's CLI wrote as text, read as the number or boolean a field takes;
- ``stack_config``: the whole config validated into a ``LoadedStack``, every mistake collected
  into one ``StackConfigError`` that names the field and the fix;
- ``regions``: the regions where EAS runs, the only ones a stack file may name;
- ``naming``: the EAS name of a service, from the stack, its key and ``namePrefix``.

Imports ``models`` and ``engines`` (the stack file names models, images and releases) and
``errors``; everything that decides about a service imports this package.
"""
