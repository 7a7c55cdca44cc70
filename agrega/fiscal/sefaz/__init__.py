"""The SEFAZ wire: SOAP 1.2 over mutual TLS to the NFCom web services (client.py), the
authorisers' addresses per UF (urls.py) and each cStat in plain Portuguese (codes.py)."""
