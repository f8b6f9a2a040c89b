"""The frameworks this project ships, one module per framework, each declaring its bindings.

Installed as ``conformance.adapters`` and registered through the entry-point group
``loss_conformance.frameworks`` like any plugin (see :mod:`conformance.frameworks`).
Importing an adapter never imports its framework; that happens only in the
framework's worker process.
"""
