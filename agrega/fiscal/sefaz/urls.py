"""Where each UF's NFCom goes: the authoriser's web-service addresses, as data.

NFCom (modelo 62) is authorised by the SEFAZ Virtual do Rio Grande do Sul (SVRS) for the
UFs that use it — today every UF in the SVRS portal's list (https://dfe-portal.svrs.rs.gov.br/Nfcom,
"Relação de Serviços Web", consulted for this table on 2026-12-06; addresses as published
there and as used by public NFCom clients). A UF that sets up its own authoriser gets its
own entry here. The sandbox (or any test authoriser) overrides all of it with one base URL.
"""

from __future__ import annotations

SVRS = {
    "producao": "https://nfcom.svrs.rs.gov.br",
    "homologacao": "https://nfcom-homologacao.svrs.rs.gov.br",
}

# Service -> path under the authoriser's base URL.
PATHS = {
    "recepcao": "/WS/NFComRecepcao/NFComRecepcao.asmx",
    "consulta": "/WS/NFComConsulta/NFComConsulta.asmx",
    "evento": "/WS/NFComRecepcaoEvento/NFComRecepcaoEvento.asmx",
    "status": "/WS/NFComStatusServico/NFComStatusServico.asmx",
}

# UF -> IBGE code (cUF of the key and of nfcomCabecMsg).
UF_CODES = {
    "RO": "11", "AC": "12", "AM": "13", "RR": "14", "PA": "15", "AP": "16", "TO": "17",
    "MA": "21", "PI": "22", "CE": "23", "RN": "24", "PB": "25", "PE": "26", "AL": "27",
    "SE": "28", "BA": "29", "MG": "31", "ES": "32", "RJ": "33", "SP": "35", "PR": "41",
    "SC": "42", "RS": "43", "MS": "50", "MT": "51", "GO": "52", "DF": "53",
}

# UF -> authoriser. Every UF is on SVRS for NFCom.
AUTHORISERS = {uf: SVRS for uf in UF_CODES}

ENVIRONMENTS = {"1": "producao", "2": "homologacao", "producao": "producao", "homologacao": "homologacao"}


def base_url(uf: str, environment: str, *, override: str | None = None) -> str:
    """The base URL for ``uf`` in ``environment`` ('producao'/'homologacao' or tpAmb 1/2);
    ``override`` (the sandbox's URL) wins when set."""
    if override:
        return override.rstrip("/")
    try:
        return AUTHORISERS[uf.upper()][ENVIRONMENTS[str(environment)]]
    except KeyError:
        raise ValueError(f"UF ou ambiente desconhecido: {uf}/{environment}") from None


def service_url(base: str, service: str) -> str:
    return base.rstrip("/") + PATHS[service]
