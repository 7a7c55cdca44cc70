"""XML-DSig enveloped signatures as the NFCom schemas fix them: RSA-SHA1, SHA-1 digest,
C14N 1.0 (REC-xml-c14n-20010315), transforms enveloped-signature + C14N, the reference
to the ``Id`` of ``infNFCom`` / ``infEvento``, the certificate in KeyInfo/X509Data, and
the Signature in the default namespace (SEFAZ refuses a ``ds:`` prefix).

Why not signxml's signer: signxml 5.2, asked for the default ds namespace, creates
Transforms/DigestMethod/DigestValue without any namespace (``xmlns=""``: its fix for
signxml issue #275), which xmlsec1 and signxml's own verifier then refuse; with a
``ds:`` prefix it is right but SEFAZ rejects the prefix. The profile is fixed by the
schema (one reference, fixed algorithms), so the few steps are done here with lxml's
C14N and ``cryptography``; xmlsec1 (tests) and the sandbox's signxml verifier check the
result independently."""

from __future__ import annotations

import base64
import copy
import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from .certificates import Certificate

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
RSA_SHA1 = DS + "rsa-sha1"
SHA1 = DS + "sha1"
ENVELOPED = DS + "enveloped-signature"
_D = "{%s}" % DS


def _c14n(element) -> bytes:
    """Inclusive C14N 1.0 of an element of a document. lxml's ``tostring(method="c14n")``
    of a non-root element writes ``xmlns=""`` on children whose default namespace comes
    from an ancestor; a copy (which carries its in-scope namespaces) canonicalises right."""
    return etree.tostring(copy.deepcopy(element), method="c14n")


def _el(parent, tag: str, text: str | None = None, **attrs):
    el = etree.SubElement(parent, _D + tag, attrs)
    if text is not None:
        el.text = text
    return el


def sign_enveloped(xml: bytes | etree._Element, *, certificate: Certificate) -> bytes:
    """The document signed: the first element carrying an ``Id`` is the reference; the
    Signature becomes the root's last child."""
    root = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    for old in root.findall(_D + "Signature"):
        root.remove(old)
    target = next(el for el in root.iter() if isinstance(el.tag, str) and el.get("Id"))
    # enveloped-signature then C14N: the Signature is not inside the target, so the
    # target's canonical form (with its in-scope namespaces) is what is digested
    digest = base64.b64encode(hashlib.sha1(_c14n(target)).digest()).decode()
    signature = etree.SubElement(root, _D + "Signature", nsmap={None: DS})
    info = _el(signature, "SignedInfo")
    _el(info, "CanonicalizationMethod", Algorithm=C14N)
    _el(info, "SignatureMethod", Algorithm=RSA_SHA1)
    ref = _el(info, "Reference", URI="#" + target.get("Id"))
    transforms = _el(ref, "Transforms")
    _el(transforms, "Transform", Algorithm=ENVELOPED)
    _el(transforms, "Transform", Algorithm=C14N)
    _el(ref, "DigestMethod", Algorithm=SHA1)
    _el(ref, "DigestValue", digest)
    value = certificate.key.sign(_c14n(info), padding.PKCS1v15(), hashes.SHA1())
    _el(signature, "SignatureValue", base64.b64encode(value).decode())
    x509 = _el(_el(signature, "KeyInfo"), "X509Data")
    _el(x509, "X509Certificate", base64.b64encode(certificate.cert.public_bytes(Encoding.DER)).decode())
    return etree.tostring(root, encoding="UTF-8")
