"""EXA (digital-security SVA) connector.

``client.py`` holds the raw HTTP calls, ``connector.py`` maps Agrega's data objects to
EXA's JSON and EXA's answers to ``ErrorKind``. Every wire detail of EXA lives in this
package and nowhere else; the contract is described in docs/connectors/exa.md.
"""

from .connector import ExaConnector

__all__ = ["ExaConnector"]
