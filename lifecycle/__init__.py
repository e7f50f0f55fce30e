"""``make lifecycle``: the project under the real Pulumi engine (test infrastructure, not the product).

- ``pulumi-cli/``: the wrapper Go module that pins the Pulumi CLI built by ``make pulumi-cli``;
- ``build_cli``: that build, into ``.cache/pulumi/bin``;
- ``standin_alicloud``: a stand-in for the ``alicloud`` 4.0.0 provider plugin (only
  ``alicloud:pai/service:Service``), talking to the local fake EAS (``tests/fake_eas.py``);
- ``standin_language``: a stand-in ``python`` language host that only answers plugin discovery
  (for ``pulumi import``; programs run inline), and ``plugin_server``, how both stand-ins serve;
- ``engine``: a workspace (file backend, passphrase, plugin home) and the runs of ``pulumi``
  verbs against the project's own ``Pulumi.yaml``, ``__main__.py`` and stack files;
- ``announced``: what ``make diff`` announces for a change, held against the engine's step;
- ``test_*.py``: the scenarios a user goes through, each asserting the engine's own steps.
"""
