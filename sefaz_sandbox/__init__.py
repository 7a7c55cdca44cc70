"""A SEFAZ homologation sandbox for NFCom (modelo 62): the four web services over SOAP
1.2 and mutual TLS, the SEFAZ's checks (schema, signature, key, emitter, duplicates,
dates) and fault switches. Standalone: it imports nothing from Agrega.
See docs/sefaz-sandbox.md."""
