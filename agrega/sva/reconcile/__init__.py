"""Reconciliation of Agrega's SVA users against the platform: the engine (``services``),
its pages (``views``/``urls``) and API (``api``), kept in one package because it is a
sub-domain of ``sva`` with its own runs, actions and periodic job (``sva.reconcile``)."""
