"""XML-DSig enveloped signatures as the NFCom schemas fix them: RSA-SHA1, SHA-1 digest,
C14N 1.0 (REC-xml-c14n-20010315), transforms enveloped-signature + C14N, the reference
to the ``Id`` of ``infNFCom`` / ``infEvento``, and the certificate in KeyInfo/X509Data.
The xmldsig schema shipped with the NFCom XSDs pins these algorithms, so SHA-1 is not a
choice here; signxml refuses SHA-1 by default and is told explicitly to allow it."""

from __future__ import annotations

from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from .certificates import Certificate

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


class _NFComSigner(XMLSigner):
    def check_deprecated_methods(self):  # the schema requires RSA-SHA1 (module docstring)
        return None


def _signer() -> XMLSigner:
    signer = _NFComSigner(signature_algorithm=SignatureMethod.RSA_SHA1, digest_algorithm=DigestAlgorithm.SHA1,
                          c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0)
    signer.namespaces = {None: DS}  # SEFAZ expects <Signature xmlns="...">, no prefix
    return signer


def sign_enveloped(xml: bytes | etree._Element, *, certificate: Certificate) -> bytes:
    """The document signed: the first child carrying an ``Id`` is the reference; the
    Signature becomes the root's last child."""
    root = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    target = next(el for el in root.iter() if el.get("Id"))
    signed = _signer().sign(root, key=certificate.key, cert=[certificate.cert],
                            reference_uri="#" + target.get("Id"), id_attribute="Id")
    return etree.tostring(signed, encoding="UTF-8", xml_declaration=False)
